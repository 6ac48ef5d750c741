import ImageFuzzing

/// One fuzz input: the input is a BMP file, decoded through ImageProcessing's decode entry under a pixel cap.
func imageBMPFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzImageDecoder(start, count, as: .bmp)
    return 0
}
