// The ImageProcessing module.
