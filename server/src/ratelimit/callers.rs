//! Who a limiter key names as the caller: its canonical address (IPv6 per /64), and the
//! proxies trusted to name another caller in a forwarded-address header.

use std::net::IpAddr;
use std::sync::Arc;

/// The address part of a limiter key: canonical (an IPv4 client on a dual-stack listener is one
/// key, not two) and, for IPv6, the /64 (one subscriber usually holds a whole /64, so keying
/// per /128 would give a guesser 2^64 fresh addresses).
pub fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The peers allowed to name the real caller in a forwarded-address header (`--trusted-proxy`):
/// a V6 central checking its callers' credentials through the V5 central, or a reverse proxy.
/// From anyone else the header is ignored, so a caller cannot spread its failures over made-up
/// addresses. Empty by default: nothing is trusted until configured.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpAddr]>);

impl TrustedProxies {
    pub fn new(addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        TrustedProxies(addresses.into_iter().map(|ip| ip.to_canonical()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `peer` is one of them (compared canonically: `::ffff:127.0.0.1` is `127.0.0.1`).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.0.contains(&peer.to_canonical())
    }

    /// The address a request from `peer` is counted against: `peer` itself, unless it is a
    /// trusted proxy that names the caller in `forwarded` (an address, or a comma-separated
    /// `X-Forwarded-For` chain, of which the last entry not itself a trusted proxy is the
    /// caller: entries further left were written by whoever the proxy talked to, so anyone).
    pub fn caller(&self, peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut chain = forwarded.unwrap_or_default().rsplit(',').map(|a| a.trim().parse::<IpAddr>());
        let mut caller = peer;
        for entry in chain.by_ref() {
            match entry {
                Ok(ip) => {
                    caller = ip.to_canonical();
                    if !self.trusts(caller) {
                        break;
                    }
                }
                // Past an entry that is not an address nothing can be relied on: stop at the
                // last hop that could be.
                Err(_) => break,
            }
        }
        caller
    }
}
