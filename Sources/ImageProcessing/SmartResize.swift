/// The resize rule of Qwen2-VL (`qwen_vl_utils.smart_resize`, the first resize of the reference pipeline):
/// both sides become multiples of `factor`, the area lands in [minPixels, maxPixels], the aspect
/// ratio is kept as well as possible.
///
/// h' = max(factor, round(h / factor) * factor) with Python's round (half to even), likewise w'.
/// If h' * w' > maxPixels: b = sqrt(h * w / maxPixels), h' = floor(h / b / factor) * factor.
/// Else if h' * w' < minPixels: b = sqrt(minPixels / (h * w)), h' = ceil(h * b / factor) * factor.
/// A side that would round to 0 in the shrinking branch is kept at `factor` (the reference would fail there).
/// Throws when the longer side is more than 200 times the shorter one.
public func smartResize(height: Int, width: Int, factor: Int = 28, minPixels: Int, maxPixels: Int)
    throws(ImageError) -> (height: Int, width: Int)
{
    try resizeRule(
        height: height, width: width, factor: factor, minPixels: minPixels, maxPixels: maxPixels,
        clampFirstRounding: true)
}

/// transformers' `Qwen2VLImageProcessor` variant of the rule (the processor's own resize, applied to the
/// output of the first one): no clamp on the first rounding, a clamp to `factor` in the shrinking branch.
func processorSmartResize(height: Int, width: Int, factor: Int = 28, minPixels: Int, maxPixels: Int)
    throws(ImageError) -> (height: Int, width: Int)
{
    try resizeRule(
        height: height, width: width, factor: factor, minPixels: minPixels, maxPixels: maxPixels,
        clampFirstRounding: false)
}

/// The rule both variants share; they differ only in whether the first rounding is clamped to `factor`.
private func resizeRule(
    height: Int, width: Int, factor: Int, minPixels: Int, maxPixels: Int, clampFirstRounding: Bool
) throws(ImageError) -> (height: Int, width: Int) {
    try checkResizeInputs(height: height, width: width, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
    let f = Double(factor)
    let floor = clampFirstRounding ? factor : 0
    var newHeight = max(floor, Int((Double(height) / f).rounded(.toNearestOrEven)) * factor)
    var newWidth = max(floor, Int((Double(width) / f).rounded(.toNearestOrEven)) * factor)
    if newHeight * newWidth > maxPixels {
        let beta = (Double(height * width) / Double(maxPixels)).squareRoot()
        newHeight = max(factor, Int((Double(height) / beta / f).rounded(.down)) * factor)
        newWidth = max(factor, Int((Double(width) / beta / f).rounded(.down)) * factor)
    } else if newHeight * newWidth < minPixels {
        let beta = (Double(minPixels) / Double(height * width)).squareRoot()
        newHeight = Int((Double(height) * beta / f).rounded(.up)) * factor
        newWidth = Int((Double(width) * beta / f).rounded(.up)) * factor
    }
    return (newHeight, newWidth)
}

private func checkResizeInputs(height: Int, width: Int, factor: Int, minPixels: Int, maxPixels: Int)
    throws(ImageError)
{
    guard height > 0, width > 0, height <= ImageLimits.maxDimension, width <= ImageLimits.maxDimension else {
        throw .invalidImage(width: width, height: height, byteCount: 0)
    }
    guard factor > 0, minPixels > 0, maxPixels >= minPixels, maxPixels <= 1 << 40 else {
        throw .invalidPixelLimits(minPixels: minPixels, maxPixels: maxPixels)
    }
    if Double(max(height, width)) / Double(min(height, width)) > 200 {
        throw .aspectRatioTooLarge(width: width, height: height)
    }
}
