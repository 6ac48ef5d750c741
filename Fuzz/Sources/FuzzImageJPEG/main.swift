import CFuzzDriver
import Foundation

exit(lr_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, imageJPEGFuzz))
