import ImageFuzzing

/// One fuzz input: the input is a GIF file, decoded through ImageProcessing's decode entry under a pixel cap.
func imageGIFFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImageDecoder(start, count, as: .gif)
    return 0
}
