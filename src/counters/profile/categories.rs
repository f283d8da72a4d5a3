//! The one table that says where a kernel function's time belongs, and the one rule
//! ([`attribute`]) that turns a sample's leaf and callchain into a [`Category`].
//!
//! Written for Linux 6.x and the copy paths copylab drives (read/write, mmap, sendfile, splice,
//! vmsplice, MSG_ZEROCOPY, io_uring) over loopback TCP, unix sockets and veth. The idea of a
//! symbol→category table comes from "Understanding Host Network Stack Overheads" (SIGCOMM 2021);
//! the entries here are copylab's own.
//!
//! What each category means:
//! - **copy**: the CPU moving bytes between buffers — the iov_iter copy helpers, the skb
//!   datagram copy, `rep_movs_alternative` / `copy_user_generic*`, kernel `memcpy`, checksumming
//!   copies, and `skb_copy_ubufs` (a MSG_ZEROCOPY skb copied after all) — wherever it runs,
//!   softirq included (the profile keeps the part made in softirq apart as well).
//! - **network**: TCP/IP, sockets, skbs, devices, qdiscs, loopback and veth, checksums, unix
//!   sockets, MSG_ZEROCOPY notifications.
//! - **page_cache**: page cache lookups, readahead, folio handling, the file systems' read paths,
//!   and the splice/pipe machinery that moves page references (sendfile is built on it).
//! - **memory**: page faults, page allocation and freeing, zeroing (`clear_page*`, `memset`),
//!   slab, page tables, TLB flushes, mmap/munmap, pinning user pages (MSG_ZEROCOPY, vmsplice,
//!   io_uring fixed buffers), memcg charging.
//! - **scheduler**: context switches, wake-ups, run-queue work, and the irq-restore points
//!   (`_raw_spin_unlock_irqrestore`, `_raw_spin_unlock_irq`) where a VM's cpu-clock samples
//!   land after a stretch with interrupts off: cpu-clock is an hrtimer and cannot fire earlier.
//! - **softirq**: the softirq entry frames (`handle_softirqs`, `net_rx_action`, …) and what runs
//!   under them, copies excepted. On loopback the receive half of TCP runs in softirq on the
//!   sender's CPU, right inside its send call.
//! - **syscall**: entry and exit, the `__x64_sys_*` / `ksys_*` / `vfs_*` / `__sys_*` layers, fd
//!   lookup, security hooks, io_uring's submission layer, and perf's own tracepoint callbacks
//!   (`perf_syscall_enter`, `perf_tp_event`, `perf_trace_*`): copylab's syscall counters fire
//!   those on every syscall of a measured thread, so their cost is shown where it is paid.
//! - **user**: any user-space IP (the sample's CPU mode says so).
//! - **other**: everything else; [`super::ThreadProfile::top_other`] names the leaves.
//!
//! Functions deliberately left out of the table (spin locks other than the irq-restore points,
//! RCU, `__cond_resched`, irq entry stubs) take their caller's category: [`attribute`] walks up
//! the chain to the first frame that has one.
//!
//! A pattern is an exact name, or a prefix written with a trailing `*` (`"tcp_*"`). The table is
//! grouped by category for reading; matching does not depend on its order: an exact name wins,
//! then the longest matching prefix. Names are looked up after compiler suffixes are stripped
//! (`.isra.0`, `.cold`, … see [`super::kallsyms::strip_suffixes`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::Category;
use super::kallsyms::strip_suffixes;

use Category::{Copy, Memory, Network, PageCache, Scheduler, Softirq, Syscall};

/// Pattern → category. One entry per line, grouped by category.
pub const TABLE: &[(&str, Category)] = &[
    // copy: the CPU moving bytes between user memory, the page cache and socket buffers.
    ("_copy_to_iter", Copy),
    ("_copy_from_iter", Copy),
    ("_copy_from_iter_nocache", Copy),
    ("_copy_from_iter_flushcache", Copy),
    ("_copy_mc_to_iter", Copy),
    ("copy_page_to_iter", Copy),
    ("copy_page_from_iter", Copy),
    ("copy_page_to_iter_nofault", Copy),
    ("copy_folio_from_iter_atomic", Copy),
    ("copy_page_from_iter_atomic", Copy),
    ("copyin", Copy),
    ("copyout", Copy),
    ("copy_to_user_nofault", Copy),
    ("copy_from_user_nofault", Copy),
    ("_copy_to_user", Copy),
    ("_copy_from_user", Copy),
    ("__copy_user_nocache", Copy),
    ("__copy_user_flushcache", Copy),
    ("copy_mc_to_kernel", Copy),
    ("copy_mc_to_user", Copy),
    ("rep_movs_alternative", Copy),
    ("copy_user_generic*", Copy),
    ("copy_user_enhanced_fast_string", Copy),
    ("memcpy", Copy),
    ("__memcpy", Copy),
    ("memcpy_orig", Copy),
    ("memmove", Copy),
    ("__memmove", Copy),
    ("memcpy_to_page", Copy),
    ("memcpy_from_page", Copy),
    ("skb_copy_datagram_iter", Copy),
    ("skb_copy_and_csum_datagram_msg", Copy),
    ("skb_copy_and_hash_datagram_iter", Copy),
    ("__skb_datagram_iter", Copy),
    ("simple_copy_to_iter", Copy),
    ("skb_copy_to_page_nocache", Copy),
    ("skb_do_copy_data_nocache", Copy),
    ("skb_add_data_nocache", Copy),
    ("skb_copy_bits", Copy),
    ("skb_store_bits", Copy),
    ("skb_copy_ubufs", Copy),
    ("skb_copy", Copy),
    ("pskb_copy", Copy),
    ("__pskb_pull_tail", Copy),
    ("csum_partial_copy*", Copy),
    ("csum_and_copy_to_iter", Copy),
    ("csum_and_copy_from_iter", Copy),
    ("csum_and_copy_from_iter_full", Copy),
    ("pipe_to_user", Copy),
    // network: TCP/IP, sockets, skbs, devices, qdiscs, loopback, veth, unix sockets.
    ("tcp_*", Network),
    ("__tcp_*", Network),
    ("tcp4_*", Network),
    ("tcp6_*", Network),
    ("inet_*", Network),
    ("__inet_*", Network),
    ("inet6_*", Network),
    ("ip_*", Network),
    ("__ip_*", Network),
    ("ipv4_*", Network),
    ("ip6_*", Network),
    ("ipv6_*", Network),
    ("raw_v4_input", Network),
    ("udp_*", Network),
    ("__udp_*", Network),
    ("sock_*", Network),
    ("__sock_*", Network),
    ("sk_*", Network),
    ("__sk_*", Network),
    ("sockfd_lookup_light", Network),
    ("lock_sock_nested", Network),
    ("release_sock", Network),
    ("__release_sock", Network),
    ("skb_*", Network),
    ("__skb_*", Network),
    ("___pskb_trim", Network),
    ("pskb_expand_head", Network),
    ("alloc_skb_with_frags", Network),
    ("__alloc_skb", Network),
    ("build_skb*", Network),
    ("napi_*", Network),
    ("__napi_*", Network),
    ("kfree_skb*", Network),
    ("__kfree_skb", Network),
    ("consume_skb", Network),
    ("__consume_stateless_skb", Network),
    ("dev_*", Network),
    ("__dev_*", Network),
    ("netdev_*", Network),
    ("netif_*", Network),
    ("__netif_*", Network),
    ("validate_xmit_*", Network),
    ("sch_direct_xmit", Network),
    ("__qdisc_run", Network),
    ("qdisc_*", Network),
    ("pfifo_fast_*", Network),
    ("fq_codel_*", Network),
    ("noqueue_*", Network),
    ("loopback_xmit", Network),
    ("veth_*", Network),
    ("neigh_*", Network),
    ("__neigh_*", Network),
    ("nf_*", Network),
    ("fib_*", Network),
    ("__fib_*", Network),
    ("dst_*", Network),
    ("eth_type_trans", Network),
    ("process_backlog", Network),
    ("gro_*", Network),
    ("csum_partial", Network),
    ("csum_ipv6_magic", Network),
    ("do_csum", Network),
    ("unix_*", Network),
    ("__unix_*", Network),
    ("scm_*", Network),
    ("__scm_*", Network),
    ("__msg_zerocopy_callback", Network),
    ("msg_zerocopy_*", Network),
    ("net_zcopy_*", Network),
    ("__zerocopy_sg_from_iter", Network),
    ("zerocopy_fill_skb_from_iter", Network),
    ("bpf_skops_*", Network),
    ("__cgroup_bpf_run_filter_skb", Network),
    ("security_sock_rcv_skb", Network),
    // page_cache: page cache lookups, readahead, folios, file-system read paths; splice/pipe.
    ("filemap_*", PageCache),
    ("__filemap_*", PageCache),
    ("folio_*", PageCache),
    ("__folio_*", PageCache),
    ("find_get_*", PageCache),
    ("find_lock_*", PageCache),
    ("pagecache_*", PageCache),
    ("page_cache_*", PageCache),
    ("readahead_*", PageCache),
    ("ondemand_readahead", PageCache),
    ("force_page_cache_ra", PageCache),
    ("mark_page_accessed", PageCache),
    ("xas_*", PageCache),
    ("xa_*", PageCache),
    ("generic_file_*", PageCache),
    ("ext4_*", PageCache),
    ("xfs_*", PageCache),
    ("btrfs_*", PageCache),
    ("shmem_*", PageCache),
    ("iomap_*", PageCache),
    ("touch_atime", PageCache),
    ("atime_needs_update", PageCache),
    ("splice_*", PageCache),
    ("__splice_*", PageCache),
    ("do_splice*", PageCache),
    ("__do_splice", PageCache),
    ("iter_file_splice_write", PageCache),
    ("copy_splice_read", PageCache),
    ("direct_splice_actor", PageCache),
    ("add_to_pipe", PageCache),
    ("pipe_*", PageCache),
    ("anon_pipe_*", PageCache),
    ("page_cache_pipe_buf_*", PageCache),
    ("generic_pipe_buf_*", PageCache),
    ("vmsplice_*", PageCache),
    ("iter_to_pipe", PageCache),
    ("do_sendfile", PageCache),
    ("wait_for_space", PageCache),
    // memory: faults, page allocation and freeing, zeroing, slab, page tables, TLB, mmap, pinning.
    ("asm_exc_page_fault", Memory),
    ("exc_page_fault", Memory),
    ("do_user_addr_fault", Memory),
    ("handle_mm_fault", Memory),
    ("__handle_mm_fault", Memory),
    ("handle_pte_fault", Memory),
    ("do_anonymous_page", Memory),
    ("do_fault", Memory),
    ("do_read_fault", Memory),
    ("do_wp_page", Memory),
    ("wp_page_copy", Memory),
    ("lock_vma_under_rcu", Memory),
    ("fixup_exception", Memory),
    ("clear_page*", Memory),
    ("clear_user*", Memory),
    ("memset", Memory),
    ("__memset", Memory),
    ("memset_orig", Memory),
    ("alloc_pages*", Memory),
    ("__alloc_pages*", Memory),
    ("__alloc_frozen_pages*", Memory),
    ("get_page_from_freelist", Memory),
    ("rmqueue*", Memory),
    ("__rmqueue*", Memory),
    ("vma_alloc_folio*", Memory),
    ("folio_alloc*", Memory),
    ("__folio_alloc*", Memory),
    ("__folio_put", Memory),
    ("folios_put*", Memory),
    ("free_pages*", Memory),
    ("__free_pages*", Memory),
    ("free_unref_*", Memory),
    ("free_pcppages_bulk", Memory),
    ("release_pages", Memory),
    ("put_page", Memory),
    ("__put_page", Memory),
    ("page_frag_*", Memory),
    ("__page_frag_*", Memory),
    ("kmem_cache_*", Memory),
    ("kmalloc*", Memory),
    ("__kmalloc*", Memory),
    ("kfree", Memory),
    ("kvfree", Memory),
    ("kvmalloc*", Memory),
    ("__kvmalloc*", Memory),
    ("__slab_*", Memory),
    ("___slab_*", Memory),
    ("slab_*", Memory),
    ("pte_*", Memory),
    ("__pte_*", Memory),
    ("pmd_*", Memory),
    ("pud_*", Memory),
    ("set_pte*", Memory),
    ("tlb_*", Memory),
    ("flush_tlb*", Memory),
    ("native_flush_tlb*", Memory),
    ("unmap_*", Memory),
    ("zap_*", Memory),
    ("do_mmap", Memory),
    ("mmap_region", Memory),
    ("__mmap_region", Memory),
    ("do_vmi_*", Memory),
    ("vms_*", Memory),
    ("vma_*", Memory),
    ("__vm_munmap", Memory),
    ("vm_mmap_pgoff", Memory),
    ("mmap_*", Memory),
    ("pin_user_pages*", Memory),
    ("unpin_user_page*", Memory),
    ("get_user_pages*", Memory),
    ("__get_user_pages*", Memory),
    ("gup_*", Memory),
    ("try_grab_*", Memory),
    ("iov_iter_get_pages*", Memory),
    ("iov_iter_extract_pages", Memory),
    ("mm_account_pinned_pages", Memory),
    ("mm_unaccount_pinned_pages", Memory),
    ("mem_cgroup_*", Memory),
    ("__mem_cgroup_*", Memory),
    ("memcg_*", Memory),
    ("__memcg_*", Memory),
    ("obj_cgroup_*", Memory),
    ("refill_obj_stock", Memory),
    ("lru_*", Memory),
    ("__lru_*", Memory),
    // scheduler: switches, wake-ups, run queues, and the irq-restore points (see the top).
    ("_raw_spin_unlock_irqrestore", Scheduler),
    ("_raw_spin_unlock_irq", Scheduler),
    ("finish_task_switch*", Scheduler),
    ("__schedule", Scheduler),
    ("schedule", Scheduler),
    ("schedule_*", Scheduler),
    ("preempt_schedule*", Scheduler),
    ("io_schedule*", Scheduler),
    ("__switch_to", Scheduler),
    ("__switch_to_asm", Scheduler),
    ("switch_mm*", Scheduler),
    ("prepare_task_switch", Scheduler),
    ("pick_next_*", Scheduler),
    ("__pick_next_*", Scheduler),
    ("put_prev_*", Scheduler),
    ("set_next_*", Scheduler),
    ("try_to_wake_up", Scheduler),
    ("wake_up_*", Scheduler),
    ("__wake_up*", Scheduler),
    ("ttwu_*", Scheduler),
    ("select_task_rq*", Scheduler),
    ("enqueue_*", Scheduler),
    ("dequeue_*", Scheduler),
    ("activate_task", Scheduler),
    ("update_curr*", Scheduler),
    ("update_load_avg", Scheduler),
    ("update_rq_clock*", Scheduler),
    ("check_preempt*", Scheduler),
    ("wakeup_preempt*", Scheduler),
    ("resched_curr*", Scheduler),
    ("psi_*", Scheduler),
    ("sched_*", Scheduler),
    ("native_sched_clock", Scheduler),
    ("autoremove_wake_function", Scheduler),
    ("default_wake_function", Scheduler),
    ("woken_wake_function", Scheduler),
    ("wait_woken", Scheduler),
    ("prepare_to_wait*", Scheduler),
    ("finish_wait", Scheduler),
    ("cpuacct_*", Scheduler),
    ("cgroup_rstat_updated", Scheduler),
    // softirq: the frames that mean "running in softirq context".
    ("handle_softirqs", Softirq),
    ("__do_softirq", Softirq),
    ("do_softirq", Softirq),
    ("do_softirq_own_stack", Softirq),
    ("__irq_exit_rcu", Softirq),
    ("run_ksoftirqd", Softirq),
    ("net_rx_action", Softirq),
    ("net_tx_action", Softirq),
    ("__local_bh_enable_ip", Softirq),
    ("tasklet_action*", Softirq),
    ("run_timer_softirq", Softirq),
    ("rcu_core", Softirq),
    // syscall: entry/exit, the syscall layers every chain ends in, fd lookup, security hooks,
    // io_uring submission, and perf's own tracepoint callbacks (copylab's syscall counters).
    ("entry_SYSCALL_64*", Syscall),
    ("entry_SYSRETQ_*", Syscall),
    ("do_syscall_64", Syscall),
    ("x64_sys_call", Syscall),
    ("syscall_*", Syscall),
    ("exit_to_user_mode*", Syscall),
    ("arch_exit_to_user_mode*", Syscall),
    ("__x64_sys_*", Syscall),
    ("__do_sys_*", Syscall),
    ("__se_sys_*", Syscall),
    ("__sys_*", Syscall),
    ("ksys_*", Syscall),
    ("vfs_*", Syscall),
    ("rw_verify_area", Syscall),
    ("fdget*", Syscall),
    ("__fdget*", Syscall),
    ("__fget*", Syscall),
    ("fget*", Syscall),
    ("fput*", Syscall),
    ("__fsnotify_parent", Syscall),
    ("fsnotify", Syscall),
    ("security_*", Syscall),
    ("apparmor_*", Syscall),
    ("selinux_*", Syscall),
    ("bpf_lsm_*", Syscall),
    ("io_*", Syscall),
    ("__io_*", Syscall),
    ("tctx_task_work", Syscall),
    ("task_work_run", Syscall),
    ("perf_syscall_enter", Syscall),
    ("perf_syscall_exit", Syscall),
    ("perf_tp_event", Syscall),
    ("perf_trace_*", Syscall),
    ("perf_swevent_*", Syscall),
    ("perf_tp_*", Syscall),
    ("trace_call_bpf", Syscall),
    ("__traceiter_*", Syscall),
    // The `id == N` filters of copylab's per-syscall counters, run at every syscall entry.
    ("filter_match_preds", Syscall),
    ("tracing_gen_ctx_irq_test", Syscall),
];

/// The table split for lookup: exact names in a map, prefixes longest first.
struct Index {
    exact: HashMap<&'static str, Category>,
    prefixes: Vec<(&'static str, Category)>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut exact = HashMap::new();
        let mut prefixes = Vec::new();
        for &(pattern, category) in TABLE {
            match pattern.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix, category)),
                None => {
                    exact.insert(pattern, category);
                }
            }
        }
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        Index { exact, prefixes }
    })
}

/// The table's category for one kernel function (suffixes stripped first), or `None` when the
/// table does not name it.
pub fn classify(name: &str) -> Option<Category> {
    let name = strip_suffixes(name);
    let ix = index();
    if let Some(c) = ix.exact.get(name) {
        return Some(*c);
    }
    ix.prefixes
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, c)| *c)
}

/// Where one sample's moment went. `leaf` is the function the sampled IP is in (`None` when no
/// symbol covers it); `chain` is the kernel callchain from the leaf towards the root (it may
/// start with the leaf itself, as perf's does); `user` says the IP was in user space.
///
/// The rules, in order:
/// 1. a user-space sample → [`Category::User`];
/// 2. walking from the leaf towards the root, the first frame that is a copy routine or a
///    softirq entry decides:
///    - a copy routine → [`Category::Copy`], wherever it runs: a page fault taken inside a copy
///      belongs to the copy, and so does a copy made in softirq (on loopback, MSG_ZEROCOPY's
///      and SEND_ZC's pages are copied by `skb_copy_ubufs` in the receive path, which runs in
///      softirq inside the sender's own send call). [`Attribution::in_softirq`] says when a
///      softirq entry sits above the copy;
///    - a softirq entry → [`Category::Softirq`]: the rest of softirq work (on loopback, the
///      receiver's half of TCP run on the sender's CPU). A copy *below* the softirq entry is a
///      copy the softirq interrupted, not work the softirq did, so it does not count;
/// 3. the leaf's own category when the table has one (a leaf in entry code, an fd lookup or a
///    `vfs_*` wrapper is syscall overhead: the CPU was there);
/// 4. else the first frame up the chain with a category other than [`Category::Syscall`]:
///    syscall frames are skipped because every chain ends in them and they say nothing;
/// 5. else [`Category::Other`].
///
/// (This string form is what the tests call; the sampler calls [`attribute_classes`] with
/// frames already classified once per address.)
#[cfg(test)]
pub fn attribute(leaf: Option<&str>, chain: &[&str], user: bool) -> Attribution {
    if user {
        return Attribution {
            category: Category::User,
            in_softirq: false,
        };
    }
    attribute_classes(leaf.and_then(classify), chain.iter().map(|f| classify(f)))
}

/// One sample's category, and whether it ran in softirq context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribution {
    pub category: Category,
    /// A softirq entry frame sits above the frame that decided (always true for
    /// [`Category::Softirq`]; for [`Category::Copy`], a copy made in softirq).
    pub in_softirq: bool,
}

/// [`attribute`] of a kernel-mode sample, on frames already classified (the sampler memoises
/// `classify` per address, and attributes a user-mode sample to [`Category::User`] itself).
pub(super) fn attribute_classes<I>(leaf: Option<Category>, chain: I) -> Attribution
where
    I: Iterator<Item = Option<Category>> + Clone,
{
    let only = |category| Attribution {
        category,
        in_softirq: false,
    };
    let mut frames = std::iter::once(leaf).chain(chain.clone()).flatten();
    match frames.find(|c| *c == Copy || *c == Softirq) {
        Some(Copy) => {
            return Attribution {
                category: Copy,
                in_softirq: frames.any(|c| c == Softirq),
            };
        }
        Some(_) => {
            return Attribution {
                category: Softirq,
                in_softirq: true,
            };
        }
        None => {}
    }
    if let Some(c) = leaf {
        return only(c);
    }
    only(
        chain
            .flatten()
            .find(|c| *c != Syscall)
            .unwrap_or(Category::Other),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::{Other, User};

    /// (what, leaf, chain leaf → root, user, expected)
    const CASES: &[(&str, &str, &[&str], bool, Category)] = &[
        (
            "read-write serving: read copies page cache to user",
            "rep_movs_alternative",
            &[
                "_copy_to_iter",
                "copy_page_to_iter",
                "filemap_read",
                "vfs_read",
                "ksys_read",
                "do_syscall_64",
                "entry_SYSCALL_64_after_hwframe",
            ],
            false,
            Copy,
        ),
        (
            "a page fault inside _copy_from_iter belongs to the copy",
            "clear_page_erms",
            &[
                "alloc_pages_mpol",
                "do_anonymous_page",
                "__handle_mm_fault",
                "handle_mm_fault",
                "do_user_addr_fault",
                "exc_page_fault",
                "asm_exc_page_fault",
                "rep_movs_alternative",
                "_copy_from_iter",
                "tcp_sendmsg_locked",
                "tcp_sendmsg",
                "__sys_sendto",
                "__x64_sys_sendto",
                "do_syscall_64",
            ],
            false,
            Copy,
        ),
        (
            "loopback receive in softirq inside the sender's send",
            "tcp_v4_rcv",
            &[
                "ip_protocol_deliver_rcu",
                "ip_local_deliver_finish",
                "__netif_receive_skb_one_core",
                "process_backlog",
                "__napi_poll",
                "net_rx_action",
                "handle_softirqs",
                "do_softirq",
                "__local_bh_enable_ip",
                "__dev_queue_xmit",
                "ip_finish_output2",
                "__ip_queue_xmit",
                "__tcp_transmit_skb",
                "tcp_write_xmit",
                "tcp_sendmsg_locked",
                "tcp_sendmsg",
                "__sys_sendto",
                "do_syscall_64",
            ],
            false,
            Softirq,
        ),
        (
            "a copy in softirq is a copy (in softirq)",
            "rep_movs_alternative",
            &[
                "skb_copy_bits",
                "tcp_v4_rcv",
                "net_rx_action",
                "handle_softirqs",
            ],
            false,
            Copy,
        ),
        (
            "MSG_ZEROCOPY on loopback: skb_copy_ubufs in the receive softirq inside the send",
            "rep_movs_alternative",
            &[
                "memcpy_from_page",
                "skb_copy_ubufs",
                "__netif_receive_skb_core",
                "__netif_receive_skb_one_core",
                "process_backlog",
                "__napi_poll",
                "net_rx_action",
                "handle_softirqs",
                "do_softirq",
                "__local_bh_enable_ip",
                "__dev_queue_xmit",
                "ip_finish_output2",
                "__ip_queue_xmit",
                "__tcp_transmit_skb",
                "tcp_write_xmit",
                "tcp_sendmsg_locked",
                "tcp_sendmsg",
                "__sys_sendto",
                "do_syscall_64",
            ],
            false,
            Copy,
        ),
        (
            "a softirq that interrupted a copy is softirq, not copy",
            "tcp_v4_rcv",
            &[
                "ip_local_deliver_finish",
                "net_rx_action",
                "handle_softirqs",
                "__irq_exit_rcu",
                "sysvec_apic_timer_interrupt",
                "asm_sysvec_apic_timer_interrupt",
                "rep_movs_alternative",
                "_copy_from_iter",
                "tcp_sendmsg_locked",
                "do_syscall_64",
            ],
            false,
            Softirq,
        ),
        (
            "deferred sample at the irq restore of a wake-up",
            "_raw_spin_unlock_irqrestore",
            &[
                "try_to_wake_up",
                "__wake_up_common",
                "__wake_up_sync_key",
                "sock_def_readable",
                "unix_stream_sendmsg",
                "__sys_sendto",
                "do_syscall_64",
            ],
            false,
            Scheduler,
        ),
        (
            "TCP send bookkeeping",
            "tcp_sendmsg_locked",
            &["tcp_sendmsg", "__sys_sendto", "do_syscall_64"],
            false,
            Network,
        ),
        (
            "page cache lookup",
            "filemap_get_pages",
            &["filemap_read", "vfs_read", "ksys_read", "do_syscall_64"],
            false,
            PageCache,
        ),
        (
            "zeroing a fresh page",
            "clear_page_erms",
            &[
                "get_page_from_freelist",
                "__alloc_frozen_pages_noprof",
                "do_anonymous_page",
            ],
            false,
            Memory,
        ),
        ("syscall entry", "entry_SYSCALL_64", &[], false, Syscall),
        (
            "unknown leaf whose chain says only syscall",
            "frobnicate_widget",
            &["widget_ioctl", "__x64_sys_ioctl", "do_syscall_64"],
            false,
            Other,
        ),
        (
            "unknown leaf (a lock) takes its caller's category",
            "_raw_spin_lock",
            &["sendfile_foo", "skb_splice_from_iter", "splice_to_socket"],
            false,
            Network,
        ),
        ("user space", "", &[], true, User),
        (
            "user space even with a kernel-looking leaf",
            "_copy_to_iter",
            &[],
            true,
            User,
        ),
        (
            "suffix stripped: foo.isra.0 under filemap_read",
            "foo.isra.0",
            &["filemap_read.constprop.0", "vfs_read"],
            false,
            PageCache,
        ),
        (
            "suffix stripped: tcp_sendmsg_locked.cold",
            "tcp_sendmsg_locked.cold",
            &[],
            false,
            Network,
        ),
    ];

    #[test]
    fn attribute_realistic_chains() {
        for (what, leaf, chain, user, want) in CASES {
            let leaf = (!leaf.is_empty()).then_some(*leaf);
            assert_eq!(attribute(leaf, chain, *user).category, *want, "{what}");
        }
    }

    #[test]
    fn copies_say_whether_they_ran_in_softirq() {
        let in_softirq = |what: &str| {
            let (_, leaf, chain, user, _) = CASES.iter().find(|c| c.0 == what).unwrap();
            attribute(Some(leaf), chain, *user).in_softirq
        };
        assert!(in_softirq(
            "MSG_ZEROCOPY on loopback: skb_copy_ubufs in the receive softirq inside the send"
        ));
        assert!(!in_softirq(
            "a page fault inside _copy_from_iter belongs to the copy"
        ));
        assert!(!in_softirq(
            "read-write serving: read copies page cache to user"
        ));
        assert!(in_softirq(
            "a softirq that interrupted a copy is softirq, not copy"
        ));
    }

    #[test]
    fn no_leaf_walks_up() {
        assert_eq!(
            attribute(None, &["filemap_read", "vfs_read"], false).category,
            PageCache
        );
        assert_eq!(attribute(None, &[], false).category, Other);
    }

    #[test]
    fn exact_beats_prefix_and_longest_prefix_wins() {
        assert_eq!(classify("skb_copy_datagram_iter"), Some(Copy));
        assert_eq!(classify("skb_splice_from_iter"), Some(Network));
        assert_eq!(classify("io_schedule_timeout"), Some(Scheduler));
        assert_eq!(classify("io_issue_sqe"), Some(Syscall));
        assert_eq!(classify("pipe_to_user"), Some(Copy));
        assert_eq!(classify("pipe_read"), Some(PageCache));
        assert_eq!(classify("__x64_sys_sendfile64"), Some(Syscall));
        assert_eq!(classify("copy_user_generic_unrolled"), Some(Copy));
        assert_eq!(classify("frobnicate"), None);
    }

    #[test]
    fn table_has_no_duplicates_and_no_empty_prefix() {
        let mut seen = std::collections::HashSet::new();
        for (p, _) in TABLE {
            assert!(seen.insert(*p), "{p} twice");
            assert!(!p.is_empty() && *p != "*", "empty pattern");
            assert!(!p[..p.len() - 1].contains('*'), "{p}: '*' only at the end");
        }
    }
}
