/* Debian's libzydis-dev (version 4) ships no pkg-config file: this shim is
 * the whole system-library target. */
#include <Zydis/Zydis.h>
