// dd_bridge.cc: small dcmtk helpers.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"

#include "dd_bridge.h"

extern "C" const char *dd_bridge_dcmtk_version(void)
{
	return OFFIS_DCMTK_VERSION_STRING;
}
