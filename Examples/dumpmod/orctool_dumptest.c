// SPDX-License-Identifier: GPL-2.0
/*
 * orctool_dumptest: known module frames for the unwinder's QEMU dumps
 * (scripts/qemu-dump.sh). Every wait below sits under a few nested noinline
 * functions of this module, so a stack trace through it shows module frames.
 *
 *   kthread orctool_kthr  sleeps: dumptest_kthread -> dumptest_kthr_outer
 *                         -> dumptest_kthr_middle -> dumptest_kthr_inner
 *                         -> wait_event_interruptible
 *   read() of /dev/orctool_dumptest blocks: dumptest_read -> dumptest_read_outer
 *                         -> dumptest_read_inner -> wait_event_interruptible
 *   any ioctl() on it blocks (busybox `stty -F /dev/orctool_dumptest` is one):
 *                         dumptest_ioctl -> dumptest_ioctl_outer
 *                         -> dumptest_ioctl_inner -> wait_event_interruptible
 *   writing "oops" starts kthread orctool_oops, which dereferences NULL in
 *                         dumptest_oops_thread -> dumptest_oops_outer
 *                         -> dumptest_oops_middle -> dumptest_oops_inner
 *
 * Nothing ever wakes the waiters but unloading the module (signals do, for
 * the reader and the ioctl).
 */
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

static DECLARE_WAIT_QUEUE_HEAD(dumptest_wq);
static bool dumptest_stopping;
static struct task_struct *dumptest_kthr;
/* Read through READ_ONCE so the compiler cannot see that it stays NULL. */
static int *dumptest_null;

/*
 * Each nested function keeps its own frame under its own name: noipa stops
 * GCC from inlining it, cloning it (.isra.0, .constprop.0) or folding two
 * identical bodies into one; an empty asm after each call keeps it a call
 * (-O2 would turn `return f();` into a jump, and the caller's frame would
 * vanish from the stack).
 */
#define DUMPTEST_FRAME noinline __attribute__((__noipa__))
#define DUMPTEST_KEEP_FRAME() asm volatile("")

static DUMPTEST_FRAME int dumptest_wait(void)
{
	return wait_event_interruptible(dumptest_wq, READ_ONCE(dumptest_stopping) || kthread_should_stop());
}

static DUMPTEST_FRAME int dumptest_kthr_inner(void)
{
	int ret = dumptest_wait();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static DUMPTEST_FRAME int dumptest_kthr_middle(void)
{
	int ret = dumptest_kthr_inner();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static DUMPTEST_FRAME int dumptest_kthr_outer(void)
{
	int ret = dumptest_kthr_middle();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static int dumptest_kthread(void *unused)
{
	while (!kthread_should_stop())
		dumptest_kthr_outer();
	return 0;
}

static DUMPTEST_FRAME int dumptest_user_wait(void)
{
	return wait_event_interruptible(dumptest_wq, READ_ONCE(dumptest_stopping));
}

static DUMPTEST_FRAME int dumptest_read_inner(void)
{
	int ret = dumptest_user_wait();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static DUMPTEST_FRAME int dumptest_read_outer(void)
{
	int ret = dumptest_read_inner();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static ssize_t dumptest_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	int ret = dumptest_read_outer();

	return ret ? ret : 0;
}

static DUMPTEST_FRAME int dumptest_ioctl_inner(void)
{
	int ret = dumptest_user_wait();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static DUMPTEST_FRAME int dumptest_ioctl_outer(void)
{
	int ret = dumptest_ioctl_inner();

	DUMPTEST_KEEP_FRAME();
	return ret;
}

static long dumptest_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	int ret = dumptest_ioctl_outer();

	return ret ? ret : -ENOTTY;
}

static DUMPTEST_FRAME void dumptest_oops_inner(void)
{
	pr_info("orctool_dumptest: dereferencing NULL in %s\n", __func__);
	WRITE_ONCE(*READ_ONCE(dumptest_null), 1);
	DUMPTEST_KEEP_FRAME();
}

static DUMPTEST_FRAME void dumptest_oops_middle(void)
{
	dumptest_oops_inner();
	DUMPTEST_KEEP_FRAME();
}

static DUMPTEST_FRAME void dumptest_oops_outer(void)
{
	dumptest_oops_middle();
	DUMPTEST_KEEP_FRAME();
}

static int dumptest_oops_thread(void *unused)
{
	dumptest_oops_outer();
	return 0;
}

static ssize_t dumptest_write(struct file *file, const char __user *buf, size_t count, loff_t *pos)
{
	char cmd[8] = {};
	struct task_struct *t;

	if (copy_from_user(cmd, buf, min(count, sizeof(cmd) - 1)))
		return -EFAULT;
	if (strcmp(strim(cmd), "oops"))
		return -EINVAL;
	t = kthread_run(dumptest_oops_thread, NULL, "orctool_oops");
	return IS_ERR(t) ? PTR_ERR(t) : count;
}

static const struct file_operations dumptest_fops = {
	.owner = THIS_MODULE,
	.read = dumptest_read,
	.write = dumptest_write,
	.unlocked_ioctl = dumptest_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice dumptest_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "orctool_dumptest",
	.fops = &dumptest_fops,
	.mode = 0666,
};

static int __init dumptest_init(void)
{
	int ret = misc_register(&dumptest_dev);

	if (ret)
		return ret;
	dumptest_kthr = kthread_run(dumptest_kthread, NULL, "orctool_kthr");
	if (IS_ERR(dumptest_kthr)) {
		misc_deregister(&dumptest_dev);
		return PTR_ERR(dumptest_kthr);
	}
	return 0;
}

static void __exit dumptest_exit(void)
{
	WRITE_ONCE(dumptest_stopping, true);
	wake_up_all(&dumptest_wq);
	kthread_stop(dumptest_kthr);
	misc_deregister(&dumptest_dev);
}

module_init(dumptest_init);
module_exit(dumptest_exit);
MODULE_DESCRIPTION("Sleeping, blocked and oopsing module frames for orctool's unwinder dumps");
MODULE_LICENSE("GPL");
