#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
/* Placeholder: the codec shims land with the ImageProcessing work. */
int lr_codecs_version(void);
#endif
