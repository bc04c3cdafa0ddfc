/* A container's bridge endpoint over rtnetlink (`berth-init net-attach`): one short process instead
 * of `ip` on the host plus `nsenter ip` in the netns (each `ip` start is several ms here).
 *
 *   host:  veth <host> with its peer created directly in the container's netns as <ifname> (MAC set),
 *          <host> enslaved to <bridge> and up
 *   netns: lo up, <ifname> up, <ip>/<prefix>, default route via <gateway> unless one exists (the
 *          first network wins, as Docker)
 *
 * No libmnl here (not a dependency): the few messages are built by hand with the kernel's uapi
 * macros. Every request asks for an ACK and the kernel's errno is reported with the step's name. */
#define _GNU_SOURCE
#include "netlink.h"

#include "error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
/* before the linux/ headers: glibc first, then linux/libc-compat.h skips the duplicates */
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct nlreq {
	struct nlmsghdr *h;
	char buf[4096];
};

static unsigned seq;

static struct nlmsghdr *msg_init(struct nlreq *r, int type, int flags)
{
	memset(r->buf, 0, sizeof r->buf);
	r->h = (struct nlmsghdr *)r->buf;
	r->h->nlmsg_len = NLMSG_LENGTH(0);
	r->h->nlmsg_type = (unsigned short)type;
	r->h->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	r->h->nlmsg_seq = ++seq;
	return r->h;
}

static void *put(struct nlreq *r, const void *data, size_t len)
{
	void *at = r->buf + NLMSG_ALIGN(r->h->nlmsg_len);
	if (data)
		memcpy(at, data, len);
	else
		memset(at, 0, len);
	r->h->nlmsg_len = (unsigned)(NLMSG_ALIGN(r->h->nlmsg_len) + NLMSG_ALIGN(len));
	return at;
}

static struct rtattr *attr(struct nlreq *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->h->nlmsg_len));
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (data && len)
		memcpy(RTA_DATA(a), data, len);
	r->h->nlmsg_len = (unsigned)(NLMSG_ALIGN(r->h->nlmsg_len) + RTA_ALIGN(a->rta_len));
	return a;
}

static struct rtattr *nest(struct nlreq *r, int type) { return attr(r, type, NULL, 0); }

static void nest_end(struct nlreq *r, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)r->buf + r->h->nlmsg_len - (char *)a);
}

/* Sends the request and waits for its ACK: 0, or -1 with errno set to the kernel's answer. */
static int talk(int fd, struct nlreq *r)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(fd, r->buf, r->h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		return -1;
	char reply[8192];
	for (;;) {
		ssize_t n = recv(fd, reply, sizeof reply, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != r->h->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (err == 0)
				return 0;
			errno = -err;
			return -1;
		}
	}
}

static int nl_open(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

static int parse_mac(const char *s, unsigned char mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (unsigned char)v[i];
	}
	return 0;
}

/* RTM_NEWLINK on an existing link: flags up (and a master when master_ix > 0). */
static int link_set(int fd, int ix, int master_ix)
{
	struct nlreq r;
	msg_init(&r, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = put(&r, NULL, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ix;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (master_ix > 0)
		attr(&r, IFLA_MASTER, &master_ix, sizeof master_ix);
	return talk(fd, &r);
}

/* On the host: the pair, its peer born in the container's netns (nsfd) under its final name and MAC;
 * the host end enslaved to the bridge and up. */
static int host_side(const struct net_attach_spec *s, const unsigned char mac[6], int nsfd, int bridge_ix)
{
	int fd = nl_open();
	if (fd < 0)
		return fail("net", "socket", "netlink", errno);
	struct nlreq r;
	msg_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = put(&r, NULL, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	attr(&r, IFLA_IFNAME, s->host_veth, strlen(s->host_veth) + 1);
	struct rtattr *linkinfo = nest(&r, IFLA_LINKINFO);
	attr(&r, IFLA_INFO_KIND, "veth", 5);
	struct rtattr *data = nest(&r, IFLA_INFO_DATA);
	struct rtattr *peer = nest(&r, VETH_INFO_PEER);
	struct ifinfomsg *pifi = put(&r, NULL, sizeof *pifi);
	pifi->ifi_family = AF_UNSPEC;
	attr(&r, IFLA_IFNAME, s->ifname, strlen(s->ifname) + 1);
	attr(&r, IFLA_ADDRESS, mac, 6);
	attr(&r, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
	nest_end(&r, peer);
	nest_end(&r, data);
	nest_end(&r, linkinfo);
	const char *step = NULL;
	if (talk(fd, &r) < 0) {
		step = "RTM_NEWLINK veth";
	} else {
		int host_ix = (int)if_nametoindex(s->host_veth);
		if (!host_ix || link_set(fd, host_ix, bridge_ix) < 0)
			step = "RTM_NEWLINK master";
	}
	int e = errno;
	close(fd);
	return step ? fail("net", step, s->host_veth, e) : 0;
}

/* Inside the container's netns (the calling process is in it): lo and the peer up, the address, a
 * default route unless one exists (EXCL: an earlier network's stays). */
static int netns_side(const struct net_attach_spec *s, struct in_addr ip, struct in_addr gw)
{
	int fd = nl_open();
	if (fd < 0)
		return fail("net", "socket", "netlink in netns", errno);
	struct nlreq r;
	const char *step = NULL, *obj = NULL;
	int ix = (int)if_nametoindex(s->ifname);
	if (!ix || link_set(fd, 1 /* lo */, 0) < 0 || link_set(fd, ix, 0) < 0) {
		step = "RTM_NEWLINK up", obj = s->ifname;
	} else {
		msg_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
		struct ifaddrmsg *ifa = put(&r, NULL, sizeof *ifa);
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = (unsigned char)s->prefix;
		ifa->ifa_index = (unsigned)ix;
		attr(&r, IFA_LOCAL, &ip, sizeof ip);
		attr(&r, IFA_ADDRESS, &ip, sizeof ip);
		struct in_addr brd = ip;
		brd.s_addr |= htonl((uint32_t)((1ull << (32 - s->prefix)) - 1));
		attr(&r, IFA_BROADCAST, &brd, sizeof brd);
		if (talk(fd, &r) < 0 && errno != EEXIST)
			step = "RTM_NEWADDR", obj = s->ip;
	}
	if (!step) {
		msg_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
		struct rtmsg *rt = put(&r, NULL, sizeof *rt);
		rt->rtm_family = AF_INET;
		rt->rtm_table = RT_TABLE_MAIN;
		rt->rtm_protocol = RTPROT_BOOT;
		rt->rtm_scope = RT_SCOPE_UNIVERSE;
		rt->rtm_type = RTN_UNICAST;
		attr(&r, RTA_GATEWAY, &gw, sizeof gw);
		attr(&r, RTA_OIF, &ix, sizeof ix);
		if (talk(fd, &r) < 0 && errno != EEXIST)
			step = "RTM_NEWROUTE", obj = s->gateway;
	}
	int e = errno;
	close(fd);
	return step ? fail("net", step, obj, e) : 0;
}

int net_attach(const struct net_attach_spec *s)
{
	unsigned char mac[6];
	struct in_addr ip, gw;
	if (parse_mac(s->mac, mac) < 0)
		return failf("net", "parse", s->mac, EINVAL, "invalid MAC address %s", s->mac);
	if (inet_pton(AF_INET, s->ip, &ip) != 1 || inet_pton(AF_INET, s->gateway, &gw) != 1 || s->prefix < 1 || s->prefix > 31)
		return failf("net", "parse", s->ip, EINVAL, "invalid address %s/%d via %s", s->ip, s->prefix, s->gateway);
	if (strlen(s->host_veth) >= IFNAMSIZ || strlen(s->ifname) >= IFNAMSIZ)
		return failf("net", "parse", s->host_veth, EINVAL, "interface name too long");
	int bridge_ix = (int)if_nametoindex(s->bridge);
	if (!bridge_ix)
		return fail("net", "if_nametoindex", s->bridge, errno);
	char nspath[64];
	snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", (int)s->pid);
	int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return fail("net", "open", nspath, errno);
	int rc = host_side(s, mac, nsfd, bridge_ix);
	/* then this process's net namespace becomes the container's */
	if (rc == 0 && setns(nsfd, CLONE_NEWNET) < 0)
		rc = fail("net", "setns", nspath, errno);
	close(nsfd);
	return rc == 0 ? netns_side(s, ip, gw) : rc;
}
