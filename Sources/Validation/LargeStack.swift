#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs `body` on a thread with a stack of `size` bytes and waits for it.
///
/// Path following recurses at every branch, as objtool's `validate_branch()`
/// does; a crafted object with a long chain of conditional jumps must not
/// overflow the main thread's stack.
func runOnLargeStack(size: Int = 1 << 30, _ body: @escaping () -> Void) {
  final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
  var attr = pthread_attr_t()
  pthread_attr_init(&attr)
  defer { pthread_attr_destroy(&attr) }
  pthread_attr_setstacksize(&attr, size)
  let box = Unmanaged.passRetained(Box(body)).toOpaque()
  #if canImport(Glibc)
    var thread = pthread_t()
  #else
    var thread: pthread_t? = nil
  #endif
  let started = pthread_create(
    &thread, &attr,
    { raw in
      let b = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
      b.body()
      return nil
    }, box)
  if started != 0 {
    // No thread: run here.
    (Unmanaged<AnyObject>.fromOpaque(box).takeRetainedValue() as! Box).body()
    return
  }
  #if canImport(Glibc)
    pthread_join(thread, nil)
  #else
    pthread_join(thread!, nil)
  #endif
}
