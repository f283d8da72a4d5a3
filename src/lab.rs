//! `copylab lab up|down`: two "machines" for a classroom on one computer — the serving and the
//! client network namespaces joined by a veth pair — left up between commands so `serve` runs
//! in one and `fetch` or `curl` in the other (`ip netns exec`). Fixed names without a pid: the
//! lab outlives the command that made it, and only `lab down` removes it — only namespaces
//! that carry copylab's lab mark, never another's under the same name.

use anyhow::Result;

use crate::netns::{self, Hosts};

pub use crate::netns::{Lab, LabDown};

/// Make the lab's namespaces and link.
pub fn up() -> Result<Lab> {
    let h = Hosts::create_lab()?;
    Ok(Lab {
        serving_netns: h.serving.netns.clone(),
        serving_dev: h.serving.dev.clone(),
        serving_addr: h.serving.addr.to_string(),
        client_netns: h.receiving.netns.clone(),
        client_dev: h.receiving.dev.clone(),
        client_addr: h.receiving.addr.to_string(),
    })
}

/// Remove the lab: what was removed, and what was found under its names but left alone.
pub fn down() -> Result<LabDown> {
    if let Some(why) = netns::refusal() {
        anyhow::bail!("lab down: {why}");
    }
    Ok(netns::remove_lab())
}
