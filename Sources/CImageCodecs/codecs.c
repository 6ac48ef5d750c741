#include "CImageCodecs.h"
int lr_codecs_version(void) { return 1; }
