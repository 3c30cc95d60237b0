#ifndef MUSTER_CLIBPQ_SHIM_H
#define MUSTER_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>

// Character-literal macros that Swift cannot import.
static const int CLibPQ_DIAG_SEVERITY = PG_DIAG_SEVERITY;
static const int CLibPQ_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int CLibPQ_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int CLibPQ_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int CLibPQ_DIAG_MESSAGE_HINT = PG_DIAG_MESSAGE_HINT;
static const int CLibPQ_DIAG_CONSTRAINT_NAME = PG_DIAG_CONSTRAINT_NAME;
#endif
