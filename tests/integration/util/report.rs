//! Reading copylab's JSON reports: a method's entry, its runs, a figure that must be a number,
//! syscall counts, the zero-copy tally, and the check that every run delivered every byte.

use serde_json::Value;

/// The method entry named `name`.
pub fn method<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["methods"]
        .as_array()
        .expect("methods is an array")
        .iter()
        .find(|m| m["method"] == name)
        .unwrap_or_else(|| panic!("no method {name} in report: {report:#}"))
}

/// The methods of a report, in its order.
pub fn method_names(report: &Value) -> Vec<&str> {
    report["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["method"].as_str().expect("method name"))
        .collect()
}

/// The measured runs of a method entry.
pub fn runs(m: &Value) -> &Vec<Value> {
    m["runs"].as_array().expect("runs is an array")
}

/// `v` as a u64, naming `what` if it is not one.
pub fn num(v: &Value, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what}: expected a number, got {v}"))
}

/// `syscalls.by_name[name]` of a run (a number; absent or null fails).
pub fn by_name(run: &Value, name: &str) -> u64 {
    num(
        &run["syscalls"]["by_name"][name],
        &format!("syscalls.by_name.{name}"),
    )
}

/// `self_counted[name]` of a run, 0 when absent.
pub fn self_counted(run: &Value, name: &str) -> u64 {
    run["self_counted"][name].as_u64().unwrap_or(0)
}

/// The zero-copy tally of a run (`zerocopy` object), as (sends, completed, copied, plain
/// fallbacks).
pub fn zerocopy(run: &Value) -> (u64, u64, u64, u64) {
    let z = &run["zerocopy"];
    assert!(z.is_object(), "no zerocopy object: {run:#}");
    (
        num(&z["sends"], "zerocopy.sends"),
        num(&z["completed"], "zerocopy.completed"),
        num(&z["copied"], "zerocopy.copied"),
        num(&z["plain_fallback"], "zerocopy.plain_fallback"),
    )
}

/// Every run of every method delivered exactly `size` bytes and passed its hash check.
pub fn assert_all_verified(report: &Value, size: u64, hash_every_run: bool) {
    for m in report["methods"].as_array().unwrap() {
        let name = m["method"].as_str().unwrap();
        let rs = runs(m);
        assert!(!rs.is_empty(), "{name}: no runs");
        for (i, r) in rs.iter().enumerate() {
            assert_eq!(r["verified"], true, "{name} run {i} not verified: {r:#}");
            assert_eq!(num(&r["bytes"], "bytes"), size, "{name} run {i} bytes");
            if hash_every_run || i == 0 {
                assert_eq!(r["hash_checked"], true, "{name} run {i} not hashed: {r:#}");
            }
        }
        assert_eq!(m["median"]["verified"], true, "{name} median verified");
    }
}

/// `text` with its wrapped paragraphs joined again: each line break and the indent after it
/// become one space, so a sentence can be found whatever width it was laid out for.
pub fn unwrapped(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}
