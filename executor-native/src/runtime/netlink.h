#ifndef BERTH_NETLINK_H
#define BERTH_NETLINK_H

#include <sys/types.h>

struct net_attach_spec {
	pid_t pid;             /* a process in the container's network namespace */
	const char *host_veth; /* host end, enslaved to bridge */
	const char *bridge;
	const char *ifname;    /* the peer's name inside (eth0) */
	const char *mac;       /* aa:bb:cc:dd:ee:ff */
	const char *ip;        /* IPv4 */
	int prefix;
	const char *gateway;
};

/* Creates and configures the endpoint (see netlink.c); 0, or -1 with g_err set. The calling process
 * ends up in the container's network namespace: run it in a process of its own. */
int net_attach(const struct net_attach_spec *s);

#endif
