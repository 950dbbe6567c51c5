//! Parsing of the address and range forms users type: `7001` (meaning 127.0.0.1:7001),
//! `127.0.0.1:7001`, `[::1]:7001`, `localhost:7001`; delays as `20` or `10..50`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Parses an address; a bare port means loopback, so `--bootstrap 7000` just works.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if s.contains(':') {
        if let Ok(mut addrs) = s.to_socket_addrs() {
            if let Some(addr) = addrs.next() {
                return Ok(addr);
            }
        }
    }
    Err(format!(
        "`{s}` is not an address: use PORT, IP:PORT, [IPv6]:PORT or HOST:PORT"
    ))
}

/// Parses an advertised address: a bare IP (`10.0.0.5`, `fd00::5`) keeps the bound port
/// (returned as port 0); anything else as [`parse_addr`].
pub fn parse_advertise(s: &str) -> Result<SocketAddr, String> {
    match s.trim().parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, 0)),
        Err(_) => parse_addr(s),
    }
}

/// Parses a delay range in milliseconds: `20` (fixed) or `10..50` (uniform).
pub fn parse_delay(s: &str) -> Result<(Duration, Duration), String> {
    let bad = || format!("`{s}` is not a delay: use MS or MIN..MAX (milliseconds)");
    let ms = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad())
    };
    let (lo, hi) = match s.split_once("..") {
        Some((a, b)) => (ms(a)?, ms(b.trim_start_matches('='))?),
        None => {
            let d = ms(s)?;
            (d, d)
        }
    };
    if lo > hi {
        return Err(format!("delay `{s}`: MIN must not exceed MAX"));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ports_mean_loopback_and_ipv6_works() {
        assert_eq!(
            parse_addr("7001").unwrap(),
            "127.0.0.1:7001".parse().unwrap()
        );
        assert_eq!(
            parse_addr("[::1]:7001").unwrap(),
            "[::1]:7001".parse().unwrap()
        );
        assert_eq!(
            parse_addr("10.1.2.3:9").unwrap(),
            "10.1.2.3:9".parse().unwrap()
        );
        assert!(parse_addr("nonsense").is_err());
        assert!(parse_addr("70000").is_err());
    }

    #[test]
    fn delays_are_fixed_or_ranges() {
        let ms = Duration::from_millis;
        assert_eq!(parse_delay("20").unwrap(), (ms(20), ms(20)));
        assert_eq!(parse_delay("10..50").unwrap(), (ms(10), ms(50)));
        assert!(parse_delay("50..10").is_err());
        assert!(parse_delay("soon").is_err());
    }
}
