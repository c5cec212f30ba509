/* dd_pseudo.c: being written */
