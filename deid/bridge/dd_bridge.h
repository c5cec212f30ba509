/* dd_bridge.h: the C interface to dcmtk.  This header compiles as C and as
 * C++; C sees only incomplete types.  Every function is extern "C" and
 * catches every C++ exception, returning a dd_err. */
#ifndef DD_BRIDGE_H
#define DD_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "dd_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dcmtk's version string ("3.6.7"). */
const char *dd_bridge_dcmtk_version(void);

#ifdef __cplusplus
}
#endif
#endif /* DD_BRIDGE_H */
