/* dd_manifest.c: being written */
