//! Which addresses an MCP token may travel to: the globally reachable ones.
//! A name passes the target policy without any lookup; the address it
//! resolves to is checked here when connecting, against the IANA
//! special-purpose address registries (IPv4 and IPv6), multicast and
//! broadcast, and the IPv4 embedded in IPv4-mapped IPv6. Names pinned with an
//! explicit `resolve` entry and ranges the operator allowed are exempt: that
//! is how internal MCP servers are reached on purpose.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::Error;

/// The special-purpose range `ip` falls in (its registry name and prefix),
/// or `None` when it is globally reachable.
///
/// ```
/// use lime_core::mcp::special_purpose_range;
/// assert_eq!(special_purpose_range("10.1.2.3".parse()?), Some("private-use (10.0.0.0/8)"));
/// assert_eq!(special_purpose_range("::ffff:127.0.0.1".parse()?), Some("loopback (127.0.0.0/8)"));
/// assert_eq!(special_purpose_range("93.184.215.14".parse()?), None);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn special_purpose_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_range(v4),
            None => v6_range(v6),
        },
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u8, &str); 19] = [
        ([0, 0, 0, 0], 8, "\"this network\" (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private-use (10.0.0.0/8)"),
        (
            [100, 64, 0, 0],
            10,
            "shared address space, CGNAT (100.64.0.0/10)",
        ),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
        ([172, 16, 0, 0], 12, "private-use (172.16.0.0/12)"),
        ([192, 0, 0, 9], 32, ""), // globally reachable exceptions in 192.0.0.0/24
        ([192, 0, 0, 10], 32, ""),
        (
            [192, 0, 0, 0],
            24,
            "IETF protocol assignments (192.0.0.0/24)",
        ),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private-use (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        (
            [255, 255, 255, 255],
            32,
            "limited broadcast (255.255.255.255/32)",
        ),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
        ([0, 0, 0, 0], 0, ""),
    ];
    let bits = u32::from(ip);
    RANGES
        .iter()
        .find(|(net, prefix, _)| {
            let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
            bits & mask == u32::from(Ipv4Addr::from(*net)) & mask
        })
        .and_then(|(_, _, name)| (!name.is_empty()).then_some(*name))
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    // Only global unicast (2000::/3) can be globally reachable; inside it,
    // the registry's special-purpose blocks are not.
    const RANGES: [(u128, u8, &str); 11] = [
        (0x2001_0001_0000_0000_0000_0000_0000_0001, 128, ""), // port control protocol anycast
        (0x2001_0001_0000_0000_0000_0000_0000_0002, 128, ""), // TURN anycast
        (0x2001_0003 << 96, 32, ""),                          // AMT
        (0x2001_0004_0112 << 80, 48, ""),                     // AS112-v6
        (0x2001_0020 << 96, 28, ""),                          // ORCHIDv2
        (
            0x2001_0000 << 96,
            23,
            "IETF protocol assignments (2001::/23)",
        ),
        (0x2001_0db8 << 96, 32, "documentation (2001:db8::/32)"),
        (0x2002 << 112, 16, "6to4 (2002::/16)"),
        (0x3fff << 112, 20, "documentation (3fff::/20)"),
        (0x5f00 << 112, 16, "segment routing SIDs (5f00::/16)"),
        (0x2000 << 112, 3, ""),
    ];
    let bits = u128::from(ip);
    let found = RANGES.iter().find(|(net, prefix, _)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
        bits & mask == net & mask
    });
    match found {
        Some((_, _, name)) => (!name.is_empty()).then_some(*name),
        None => Some(match bits >> 120 {
            0xff => "multicast (ff00::/8)",
            0xfe if bits >> 118 == 0x3fa => "link-local (fe80::/10)",
            0xfc | 0xfd => "unique-local (fc00::/7)",
            _ if ip == Ipv6Addr::LOCALHOST => "loopback (::1/128)",
            _ if ip == Ipv6Addr::UNSPECIFIED => "unspecified (::/128)",
            _ if bits >> 32 == 0x0064_ff9b << 64 => "NAT64 (64:ff9b::/96)",
            _ if bits >> 80 == 0x0064_ff9b_0001 => "local-use NAT64 (64:ff9b:1::/48)",
            _ if bits >> 64 == 0x0100 << 48 => "discard-only (100::/64)",
            _ => "not global unicast (outside 2000::/3)",
        }),
    }
}

/// An address an MCP token must not travel to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} resolved to {address}, {range}, which is not globally reachable; an MCP token is \
     sent there only when the name is pinned with a resolve entry or the range is allowed \
     (mcp_allow_range)"
)]
pub struct AddressRefused {
    /// The name that was looked up.
    pub host: String,
    /// The address it resolved to.
    pub address: IpAddr,
    /// The special-purpose range it falls in.
    pub range: &'static str,
}

impl From<AddressRefused> for Error {
    fn from(refused: AddressRefused) -> Self {
        Error::invalid_input("mcp address", refused.to_string())
    }
}

/// The address rule for MCP connections: globally reachable addresses, and
/// the ranges the operator allowed (none by default).
///
/// ```
/// use lime_core::mcp::AddressPolicy;
/// let policy = AddressPolicy::new(&["10.20.0.0/16".parse()?]);
/// assert!(policy.check("mcp.corp.example", "10.20.1.2".parse()?).is_ok());
/// let refused = policy.check("mcp.example.com", "10.9.9.9".parse()?).unwrap_err();
/// assert!(refused.to_string().contains("private-use (10.0.0.0/8)"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// Globally reachable addresses and `allowed`.
    pub fn new(allowed: &[IpNet]) -> Self {
        AddressPolicy {
            allowed: allowed.to_vec(),
        }
    }

    /// Whether a connection to `address`, which `host` resolved to, may
    /// carry an MCP token.
    ///
    /// # Errors
    /// [`AddressRefused`] naming the range.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), AddressRefused> {
        let mapped = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let allowed = |ip: IpAddr| self.allowed.iter().any(|net| net.contains(&ip));
        if allowed(address) || mapped.is_some_and(allowed) {
            return Ok(());
        }
        match special_purpose_range(address) {
            None => Ok(()),
            Some(range) => Err(AddressRefused {
                host: host.to_owned(),
                address,
                range,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refused_range_is_named_and_its_neighbours_pass() {
        let refused = [
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:a00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::a00:1",
        ];
        for ip in refused {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                special_purpose_range(ip).is_some(),
                "{ip} should be refused"
            );
        }
        let global = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.0.9",
            "192.0.0.10",
            "192.0.3.0",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2001:3::1",
            "2001:4:112::1",
            "2001:1::1",
            "2400:cb00::1",
        ];
        for ip in global {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(
                special_purpose_range(ip),
                None,
                "{ip} is globally reachable"
            );
        }
    }

    #[test]
    fn an_allowed_range_passes_in_both_spellings() {
        let policy = AddressPolicy::new(&["10.0.0.0/8".parse().unwrap()]);
        assert!(
            policy
                .check("a.example", "10.1.1.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            policy
                .check("a.example", "::ffff:10.1.1.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            policy
                .check("a.example", "192.168.1.1".parse().unwrap())
                .is_err()
        );
        let error = Error::from(
            AddressPolicy::default()
                .check("vm.example", "127.0.0.1".parse().unwrap())
                .unwrap_err(),
        );
        let text = error.to_string();
        assert!(
            text.contains("vm.example") && text.contains("loopback"),
            "{text}"
        );
    }
}
