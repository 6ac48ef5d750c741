import Foundation
import TestSupport
import Testing

/// `--dtype`: what a user gets from the command line on a machine without a GPU.
@Suite("--dtype")
struct DTypeOptionTests {
    static let model = Fixtures.url("checkpoints/tiny-untied-legacy").path

    struct Output: Decodable {
        struct Result: Decodable {
            var index: Int
            var logit: Double
        }
        var results: [Result]
    }

    func rerank(_ extra: [String], model: String = DTypeOptionTests.model) throws -> CommandLineRun {
        try CommandLineRun.run(
            [
                "rerank", "--model", model, "--backend", "cpu", "--query", "capital of France", "--json",
                "--document", "Paris is the capital of France.", "--document", "Bananas are yellow.",
            ] + extra,
            seconds: 60)
    }

    func logits(_ run: CommandLineRun) throws -> [Int: Double] {
        let output = try JSONDecoder().decode(Output.self, from: Data(run.standardOutput.utf8))
        return Dictionary(uniqueKeysWithValues: output.results.map { ($0.index, $0.logit) })
    }

    @Test("fp8 on the CPU scores with 8-bit weights: close to bf16, not equal; auto is bf16 on the CPU")
    func fp8OnCPU() throws {
        let bf16 = try rerank(["--dtype", "bf16"]), fp8 = try rerank(["--dtype", "fp8"]), auto = try rerank([])
        for run in [bf16, fp8, auto] { #expect(run.status == 0, "\(run.standardError)") }
        let (wide, narrow, automatic) = (try logits(bf16), try logits(fp8), try logits(auto))
        #expect(automatic == wide)
        for index in [0, 1] {
            let (a, b) = (try #require(wide[index]), try #require(narrow[index]))
            #expect(a != b)
            #expect(abs(a - b) < 1.5, "document \(index): bf16 \(a), fp8 \(b)")
        }
    }

    @Test("an FP8 checkpoint runs as stored and widened")
    func fp8Checkpoint() throws {
        let stored = Fixtures.url("checkpoints/tiny-fp8").path
        for dtype in ["fp8", "bf16", "fp8-weight-only"] {
            let run = try rerank(["--dtype", dtype], model: stored)
            #expect(run.status == 0, "\(dtype): \(run.standardError)")
            #expect(try logits(run).count == 2)
        }
    }

    @Test("an unknown precision is refused with the choices")
    func unknown() throws {
        let run = try rerank(["--dtype", "int4"])
        #expect(run.status != 0)
        #expect(run.standardError.contains("--dtype"), "\(run.standardError)")
        #expect(run.standardError.contains("fp8"), "\(run.standardError)")
    }
}

/// `--gpu-wait`: accepted by every command that loads the model, refused with the choices when misspelt.
@Suite("--gpu-wait")
struct GPUWaitOptionTests {
    @Test("a known wait changes nothing on the CPU; an unknown one names the choices")
    func choices() throws {
        let plain = try DTypeOptionTests().rerank([]), spin = try DTypeOptionTests().rerank(["--gpu-wait", "spin"])
        #expect(plain.status == 0, "\(plain.standardError)")
        #expect(spin.status == 0, "\(spin.standardError)")
        #expect(try DTypeOptionTests().logits(plain) == DTypeOptionTests().logits(spin))
        let wrong = try DTypeOptionTests().rerank(["--gpu-wait", "sleep"])
        #expect(wrong.status != 0)
        for word in ["--gpu-wait", "sleep", "block", "spin"] { #expect(wrong.standardError.contains(word), "\(word)") }
    }
}
