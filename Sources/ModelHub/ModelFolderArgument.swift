import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How `--model` is read when it could be a folder: which arguments are paths, whether an existing folder
/// can be read, and which folder a mistyped path probably meant.
enum ModelFolderArgument {
    /// `argument` with a leading `~` or `~/` replaced by the home folder.
    static func expanded(_ argument: String) -> String {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        if argument == "~" { return home }
        if argument.hasPrefix("~/") { return home + argument.dropFirst(1) }
        return argument
    }

    /// Whether `argument` can only mean a folder (never a Hub id): it starts with `/`, `.` or `~`, has more
    /// than one `/` or a trailing one, or its first part names a folder that exists here
    /// (`Fixtures/tiny-untied-legacy` when `Fixtures/` exists).
    static func looksLikePath(_ argument: String) -> Bool {
        if argument.hasPrefix("/") || argument.hasPrefix(".") || argument.hasPrefix("~") { return true }
        if argument.hasSuffix("/") || argument.filter({ $0 == "/" }).count > 1 { return true }
        guard let slash = argument.firstIndex(of: "/") else { return false }
        var isDirectory: ObjCBool = false
        let parent = String(argument[..<slash])
        return FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Throws ``ModelHubError/permissionDenied(_:)`` when this user may not list the existing folder `path`
    /// or reach the files in it (rather than letting it look empty, "missing config.json").
    static func checkReadable(_ path: String, argument: String) throws(ModelHubError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == EACCES || errno == EPERM { throw .permissionDenied(argument) }
            return
        }
        close(descriptor)
        var status = stat()
        if stat(path + "/config.json", &status) != 0, errno == EACCES { throw .permissionDenied(argument) }
    }

    /// A folder holding `config.json` whose name is the last part of the missing `path`, found under the
    /// deepest part of `path` that exists (at most three levels down, a few thousand entries): the folder a
    /// mistyped path probably meant.
    static func suggestion(for path: String) -> String? {
        let wanted = (path as NSString).lastPathComponent
        var ancestor = (path as NSString).deletingLastPathComponent
        let fileManager = FileManager.default
        func isFolder(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        while !ancestor.isEmpty, !isFolder(ancestor) {
            ancestor = (ancestor as NSString).deletingLastPathComponent
        }
        guard !wanted.isEmpty, !ancestor.isEmpty, ancestor != "/" else { return nil }
        var level = [ancestor], visited = 0
        for _ in 0..<3 {
            var next: [String] = []
            for folder in level {
                for name in (try? fileManager.contentsOfDirectory(atPath: folder).sorted()) ?? [] {
                    visited += 1
                    if visited > 5000 { return nil }
                    let candidate = folder + "/" + name
                    guard isFolder(candidate) else { continue }
                    if name == wanted, fileManager.fileExists(atPath: candidate + "/config.json") { return candidate }
                    next.append(candidate)
                }
            }
            level = next
        }
        return nil
    }
}
