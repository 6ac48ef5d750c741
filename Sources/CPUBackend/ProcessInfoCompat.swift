import Foundation

/// Processor count without making every file import Foundation.
enum ProcessInfoCompat {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
