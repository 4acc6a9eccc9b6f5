import ELF

extension ELFError: ELFErrorConvertible {
  var line: String { description }
}

extension CLIError: ELFErrorConvertible {
  var line: String { description }
}
