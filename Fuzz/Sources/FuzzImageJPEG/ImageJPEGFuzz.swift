import ImageFuzzing

/// One fuzz input: the input is a JPEG file, decoded through ImageProcessing's decode entry under a pixel cap.
func imageJPEGFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImageDecoder(start, count, as: .jpeg)
    return 0
}
