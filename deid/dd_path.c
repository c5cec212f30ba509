/* dd_path.c: being written */
