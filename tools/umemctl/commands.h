/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umemctl's commands: what the dispatcher (umemctl.c) calls, one file
 * each, and the usage helper they share.  The commands depend on this
 * header alone, never on the dispatcher.
 */
#ifndef UMEMCTL_COMMANDS_H
#define UMEMCTL_COMMANDS_H

#include <stdarg.h>
#include <stdio.h>

int cmd_source(int argc, char **argv);
int cmd_vmm(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_incoming(int argc, char **argv);

/* Print "umemctl CMD: MSG" (if any) and the usage; returns 2. */
static inline int usage_error(const char *cmd, const char *msg,
			      const char *usage)
{
	if (msg)
		fprintf(stderr, "umemctl %s: %s\n", cmd, msg);
	fputs(usage, stderr);
	return 2;
}

#endif /* UMEMCTL_COMMANDS_H */
