/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An array that grows as it is filled: for the engine's readers and the
 * commands alike, below both.
 */
#ifndef OP25B_GROW_H
#define OP25B_GROW_H

#include <stddef.h>
#include <stdlib.h>

/*
 * Room in *v (of *cap elements of size bytes) for element n: doubled when
 * full. -1, *v as it was, when memory is short.
 */
static inline int array_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 64;
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*v, nc * size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

#endif /* OP25B_GROW_H */
