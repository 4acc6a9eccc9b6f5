import ELF
import Kernel

/// The layout of `struct inactive_task_frame` (arch/x86/include/asm/switch_to.h):
/// what `__switch_to_asm` pushes on the stack of a task it switches away
/// from, and where that task's `thread.sp` points. A sleeping task's trace
/// starts at its `ret_addr`, with its `bp`, and the stack just above the frame.
///
/// The layout comes from the kernel's `.BTF` and nowhere else: it changes with
/// the kernel's configuration (`CONFIG_X86_32`, the callee-saved registers of
/// the ABI), so a `.BTF` without it is an error, never a guess.
public struct InactiveTaskFrame: Sendable, Hashable {
  /// `sizeof(struct inactive_task_frame)`.
  public var size: UInt64
  /// The offset of `bp`: the task's frame pointer.
  public var bp: UInt64
  /// The offset of `ret_addr`: where the task resumes.
  public var returnAddress: UInt64

  /// The struct's name in `.BTF`.
  public static let name = "inactive_task_frame"

  /// A layout given field by field.
  public init(size: UInt64, bp: UInt64, returnAddress: UInt64) {
    self.size = size
    self.bp = bp
    self.returnAddress = returnAddress
  }

  /// The layout `.BTF` describes; an error names the struct or member it lacks.
  public init(btf: BTF) throws(ELFError) {
    size = UInt64(try btf.requireSize(of: Self.name))
    bp = UInt64(try btf.requireOffset(of: "bp", in: Self.name))
    returnAddress = UInt64(try btf.requireOffset(of: "ret_addr", in: Self.name))
  }
}
