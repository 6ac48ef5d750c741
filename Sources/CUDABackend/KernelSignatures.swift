import Foundation

extension KernelArgument {
    /// What a kernel parameter takes, as far as a launch is concerned.
    enum Kind: String, Sendable, Equatable {
        case pointer, int32, int64, float
    }

    var kind: Kind {
        switch self {
        case .pointer: .pointer
        case .int32: .int32
        case .int64: .int64
        case .float: .float
        }
    }
}

/// The parameter kinds of every kernel, read from the kernels' own CUDA declarations.
///
/// A kernel's parameters are declared once, in its CUDA source; every launch is checked against that
/// declaration (count, order and kind of each argument) before the driver sees it, so a launch that does not
/// match is an error naming the kernel and the parameter instead of a kernel reading garbage.
struct KernelSignatures: Sendable {
    /// Parameter kinds by kernel name.
    let parameters: [String: [KernelArgument.Kind]]

    /// The signatures of every `extern "C" __global__` function in `source`; nil when a parameter has a type
    /// that no launch argument can carry.
    init?(source: String) {
        guard
            let pattern = try? NSRegularExpression(
                pattern: #"extern "C" __global__ void (?:__launch_bounds__\([^)]*\)\s*)?(\w+)\(([^)]*)\)"#)
        else { return nil }
        var parameters = [String: [KernelArgument.Kind]]()
        let text = source as NSString
        for match in pattern.matches(in: source, range: NSRange(location: 0, length: text.length)) {
            let name = text.substring(with: match.range(at: 1))
            let list = text.substring(with: match.range(at: 2))
            var kinds = [KernelArgument.Kind]()
            for declaration in list.split(separator: ",") {
                guard let kind = Self.kind(ofParameter: String(declaration)) else { return nil }
                kinds.append(kind)
            }
            parameters[name] = kinds
        }
        self.parameters = parameters
    }

    /// The kind a C parameter declaration (`const bf16_t* __restrict__ q`, `long long n`) takes.
    static func kind(ofParameter declaration: String) -> KernelArgument.Kind? {
        let words = declaration.split(whereSeparator: \.isWhitespace).dropLast().joined(separator: " ")
        if declaration.contains("*") { return .pointer }
        switch words {
        case "int", "unsigned", "const int", "unsigned int": return .int32
        case "long long", "const long long": return .int64
        case "float", "const float": return .float
        default: return nil
        }
    }

    /// Throws ``CUDAError/kernelArguments(kernel:detail:)`` unless `arguments` match `name`'s declaration.
    func check(_ name: String, _ arguments: [KernelArgument]) throws {
        guard let expected = parameters[name] else {
            throw CUDAError.kernelArguments(kernel: name, detail: "no kernel of that name is declared")
        }
        // Every launch passes through here: the matching case allocates nothing.
        if arguments.count == expected.count, zip(arguments, expected).allSatisfy({ $0.kind == $1 }) { return }
        let given = arguments.map(\.kind)
        guard given.count == expected.count else {
            throw CUDAError.kernelArguments(
                kernel: name, detail: "\(given.count) arguments given, the kernel declares \(expected.count)")
        }
        let index = given.indices.first { given[$0] != expected[$0] } ?? 0
        throw CUDAError.kernelArguments(
            kernel: name,
            detail: "argument \(index) is \(given[index].rawValue), the kernel declares \(expected[index].rawValue)")
    }
}
