// SPDX-License-Identifier: GPL-2.0
/*
 * umem: the tracepoints of trace.h are created here, once.
 */
#include <linux/build_bug.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

/* trace.h prints these as plain numbers, for the format files. */
static_assert(UMEM_REQ_WRITE == 1 && UMEM_REQ_KERNEL == 2 &&
	      UMEM_REQ_ASYNC == 4 && UMEM_REQ_REDELIVERED == 8);
static_assert(UMEM_STATE_UNSERVED == 0 && UMEM_STATE_SERVED == 1 &&
	      UMEM_STATE_DETACHED == 2 && UMEM_STATE_FAILED == 3 &&
	      UMEM_STATE_COMPLETE == 4);
