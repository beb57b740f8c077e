package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// signInLimit is how many failed sign-ins an address may make: Burst at
// once, then one more every Every.
type signInLimit struct {
	Burst int
	Every time.Duration
}

// defaultSignInLimit lets an operator mistype ten times in a row, then
// allows ten a minute: a password guesser gets 14,400 tries a day instead
// of the thousands a second it had.
var defaultSignInLimit = signInLimit{Burst: 10, Every: 6 * time.Second}

// Tracked addresses: idle ones are dropped beyond pruneAt, arbitrary ones
// beyond maxTracked, so that many addresses cannot fill the memory.
const (
	pruneAt    = 1024
	maxTracked = 1 << 16
)

// signInLimiter slows down failed sign-ins (Basic credentials and the
// sign-in form alike) per client address: each failure takes a token of
// the address's rate.Limiter, and while it has none, the address's
// credentials are not checked at all, right or wrong (the answer is 429
// with Retry-After), so that a guesser learns nothing faster. Each burst
// of failures is logged twice at most: at its first failure and when the
// address is first refused; the password never. Behind a reverse proxy
// every client has the proxy's address. It is safe for concurrent use.
type signInLimiter struct {
	limit signInLimit
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	clients map[netip.Prefix]*failures
}

// failures is the record of one address.
type failures struct {
	lim     *rate.Limiter
	failed  int  // failures in this burst
	refused bool // this burst's refusal was logged
}

func newSignInLimiter(limit signInLimit, now func() time.Time, log *slog.Logger) *signInLimiter {
	return &signInLimiter{limit: limit, now: now, log: log, clients: map[netip.Prefix]*failures{}}
}

// wait returns how long addr must wait before its credentials are
// checked again, 0 when they may be now.
func (l *signInLimiter) wait(ctx context.Context, addr netip.Prefix) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[addr]
	if !ok {
		return 0
	}
	tokens := f.lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	wait := time.Duration((1 - tokens) * float64(l.limit.Every))
	if !f.refused {
		f.refused = true
		l.log.WarnContext(ctx, "too many failed sign-ins; refusing the address's credentials for a while",
			"remote", addr.String(), "failures", f.failed, "retry_after", wait.Round(time.Second).String())
	}
	return wait
}

// fail counts a failed sign-in of addr at path.
func (l *signInLimiter) fail(ctx context.Context, addr netip.Prefix, path string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[addr]
	if !ok {
		if len(l.clients) >= pruneAt {
			l.prune(now)
		}
		f = &failures{lim: rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)}
		l.clients[addr] = f
	}
	if f.lim.TokensAt(now) >= float64(l.limit.Burst) {
		f.failed, f.refused = 0, false // the last burst is over
	}
	f.lim.AllowN(now, 1)
	f.failed++
	if f.failed == 1 {
		l.log.WarnContext(ctx, "sign-in failed", "remote", addr.String(), "path", path)
	}
}

// prune drops the addresses whose limiter is full again, and arbitrary
// others while too many are tracked. l.mu must be held.
func (l *signInLimiter) prune(now time.Time) {
	for k, f := range l.clients {
		if f.lim.TokensAt(now) >= float64(l.limit.Burst) || len(l.clients) >= maxTracked {
			delete(l.clients, k)
		}
	}
}

// clientAddr is the address failures are counted against: the client's
// IP, or for IPv6 its /64, which one machine usually holds whole.
func clientAddr(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
