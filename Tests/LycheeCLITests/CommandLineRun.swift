import Foundation
import TestSupport

/// Runs the built `lychee-rerank` binary as a user would, bounded in time.
struct CommandLineRun {
    let status: Int32
    let standardOutput: String
    let standardError: String
    let timedOut: Bool

    /// The binary next to the test bundle (`swift build --build-tests` builds both into one folder).
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("lychee-rerank")
    }

    /// Runs `lychee-rerank arguments...` with `environment` added to this process's, killing it after
    /// `seconds`.
    static func run(_ arguments: [String], environment: [String: String] = [:], seconds: Double = 60) throws
        -> CommandLineRun
    {
        var executable = binary
        if !FileManager.default.isExecutableFile(atPath: executable.path) {
            executable = Fixtures.root.appendingPathComponent(".build/debug/lychee-rerank")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let folder = try Fixtures.temporaryDirectory("cli-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("out"), errURL = folder.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try out.close()
        try err.close()
        return CommandLineRun(
            status: process.terminationStatus,
            standardOutput: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            standardError: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
            timedOut: timedOut)
    }
}
