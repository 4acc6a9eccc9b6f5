/* The system zlib (Debian zlib1g-dev), for the zlib pages of kdump-compressed dumps. */
#include <zlib.h>
