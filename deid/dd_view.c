/* dd_view.c: being written */
