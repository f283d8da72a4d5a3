//! Every word of the lesson in Chinese (中文): one arm per message, and the HTML page's words.
//! Technical terms stay recognisable; sentences are written for a Chinese reader, not
//! translated word for word.

use super::{
    CallName, Counted, Heading, JdkTransfer, Kafka, KafkaHeading, LeftOut, MYTHS, MappedShare, Msg,
    Myth, PageWords, Paired, ReceiveHeading, ReceiveLine, ReceiveOutcome, Side, Table, ms, or_na,
    size,
};
use crate::method::{Band, MethodKind, Place, StepKind};
use crate::receive::ReceiverKind;
use crate::report::thousands;
use crate::results::CacheState;
use crate::transport::Transport;

/// "a"、"a 和 b"、"a、b 和 c"。
fn and_list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} 和 {last}", init.join("、")),
    }
}

pub static TABLE: Table = Table {
    say,
    reality,
    receive_reality,
    myths: &MYTH_LIST,
    colon: "：",
    colon_space: "",
    sentence_gap: "",
    list_sep: "、",
    page: PAGE,
};

fn say(m: &Msg) -> String {
    match m {
        Msg::Band(b) => band(*b).into(),
        Msg::Place(p) => place(*p).into(),
        Msg::Step(k) => step(*k).into(),
        Msg::Title(k) => title(*k).into(),
        Msg::Heading(h) => heading(*h).into(),
        Msg::Legend => "DMA = 设备拷贝 · CPU = 处理器拷贝 · CPU* = 只在没有分散/聚集 DMA（SG-DMA）时才是 CPU 拷贝，有它时 skb 持有页引用，网卡直接读页缓存 · ref = 移动页引用 · map = 页映射 · pin = 页面固定（pin）直到完成通知（没有 SG-DMA 时是一次 CPU 拷贝）".into(),
        Msg::During(CallName::Op(c)) => format!("由 {c} 完成，经 io_uring_enter() 批量提交"),
        Msg::During(c) => format!("发生在 {c} 期间"),
        Msg::DiskDma { call, toucher } => {
            let inside = match (call, toucher) {
                (Some(c), _) => format!("发生在 {c} 里"),
                (None, Some(t)) => format!("发生在 {t} 触发的缺页里"),
                (None, None) => "发生在第一次访问的缺页里".into(),
            };
            format!(
                "只在页缓存未命中时{inside}，常常被预读（readahead）提前完成；页缓存命中时根本不读盘"
            )
        }
        Msg::MappedByFaults { call, toucher } => {
            let touch = toucher.map_or(String::new(), |t| format!("，这里是在 {t} 里"));
            format!(
                "{call} 只保留地址范围（没有 MAP_POPULATE），页在第一次访问时由缺页映射{touch}，一次缺页映射很多页（fault-around 把周围已缓存的页一起映射，大 folio 整块映射）；冷缓存时磁盘 DMA 就发生在这次缺页里"
            )
        }
        Msg::TextbookCopies { cpu, sg } if cpu == sg => format!("{cpu} 次 CPU 拷贝"),
        Msg::TextbookCopies { cpu, sg } => {
            format!("{cpu} 次 CPU 拷贝（有分散/聚集 DMA（SG-DMA）时 {sg} 次）")
        }
        Msg::SyscallsPerChunk(c) => format!("每块数据的系统调用：{c}"),
        Msg::SyscallsPerBatch(b) => {
            format!("每批数据块只有一次系统调用 {b}（一批多少块由 --batch 决定）")
        }
        Msg::SyscallsOnce(o) => format!("（每次传输一次 {o}）"),
        Msg::Textbook {
            copies,
            dma,
            transitions,
            calls,
            once,
        } => format!(
            "{copies}，{dma} 次 DMA 拷贝，{transitions} 次用户态↔内核态切换（面试答案里的“上下文切换”）；{calls}{once}。"
        ),
        Msg::MeasuredCalls {
            bytes,
            transport,
            runs,
            syscalls,
            by_name,
            read_write,
        } => format!(
            "{}，经 {transport}（{runs} 次运行的中位数）：{} 次系统调用（{by_name}）—— read-write 需要 {} 次。",
            size(*bytes),
            or_na(*syscalls, |n| n.to_string()),
            or_na(*read_write, |n| n.to_string()),
        ),
        Msg::MeasuredCounts {
            voluntary,
            involuntary,
            minor_faults,
            major_faults,
            sys_ms,
            read_write_sys_ms,
        } => format!(
            "上下文切换：自愿 {voluntary} / 非自愿 {involuntary} · 缺页：次 {minor_faults} / 主 {major_faults} · 内核态 CPU {sys_ms:.1} ms（read-write {read_write_sys_ms:.1} ms）。"
        ),
        Msg::ZeroCopySends {
            sends,
            completed,
            copied,
            plain_fallback,
        } => format!(
            "零拷贝发送 {sends} 次，完成 {completed} 次；内核报告其中 {copied} 次做了拷贝{}。",
            match plain_fallback {
                0 => String::new(),
                n => format!("（ENOBUFS 后有 {n} 块改用普通发送）"),
            }
        ),
        Msg::WorkerCpu { ms } => {
            format!("io-wq 工作线程替服务线程花了 {ms:.1} ms CPU —— 不在上面的数字里。")
        }
        Msg::SampledCopies {
            serving_ms_per_gib,
            serving_share_pct,
            read_write_ms_per_gib,
            receiver_ms_per_gib,
            receiver_share_pct,
        } => format!(
            "采样 CPU（cpu-clock）：发送线程每 GiB 花 {serving_ms_per_gib:.0} ms 做拷贝（占其样本 {serving_share_pct:.0}%；read-write 为 {read_write_ms_per_gib:.0} ms），接收线程每 GiB {receiver_ms_per_gib:.0} ms（{receiver_share_pct:.0}%）—— 接收端从 socket 拷出的那一次，每条路径都省不掉。"
        ),
        Msg::Agrees {
            per_chunk,
            chunks,
            fresh_regions,
            syscalls,
            textbook_transitions,
            left_out,
            switches,
        } => format!(
            "与模型一致：每块 {per_chunk} × {chunks} 块{} = {syscalls} 次系统调用 = {} 次用户态↔内核态切换。教科书的 {textbook_transitions} 次只描述一块数据{}。{switches}",
            match fresh_regions {
                0 => String::new(),
                n => format!(" + {n} 个新页区域的 mmap + munmap"),
            },
            2 * syscalls,
            match left_out {
                LeftOut::Nothing => "",
                LeftOut::Munmap => "，而且不算 munmap",
                LeftOut::FreshPages => "，而且不算 vmsplice 需要的新页",
            },
        ),
        Msg::Differs { got, want } => format!(
            "与教科书的 {want} 次不同：实际是 {got} 次系统调用，因为 socket 每次接收的字节少于请求的（短写），或计数器看到了数据路径之外的调用。教科书的模型没有考虑这些。"
        ),
        Msg::NoFixedCount { got, per_chunk } => format!(
            "{got} 次系统调用：{per_chunk} 这里模型给不出固定次数：调用次数取决于内核何时完成每个请求。"
        ),
        Msg::NotCounted => "这台机器上无法统计系统调用（见 `copylab doctor`），只能比较 CPU 和上下文切换的数字。".into(),
        Msg::NeverBlocked => "线程从未阻塞（0 次自愿上下文切换）：socket 一直有空间。".into(),
        Msg::Blocked { times } => format!(
            "上面的调度器上下文切换是另一回事：线程阻塞了 {times} 次（自愿上下文切换），通常是在等 socket 缓冲区腾出空间，这次运行并没有测出原因。"
        ),
        Msg::KafkaTitle => "Kafka 的零拷贝 ——「请你简单说一下Kafka的零拷贝原理」，一步一步的回答".into(),
        Msg::KafkaHeading(h) => kafka_heading(*h).into(),
        Msg::Kafka(k) => kafka(*k).into(),
        Msg::KafkaFigures {
            bytes,
            runs,
            buffer_bytes,
            pipe_bytes,
        } => format!(
            "数字来源：生成的 {} 文件，经 tcp 127.0.0.1（回环，没有网卡），`copylab compare` {runs} 次运行的中位数，read-write 缓冲区 {}，splice 管道 {}。",
            size(*bytes),
            size(*buffer_bytes),
            or_na(*pipe_bytes, size)
        ),
        Msg::MeasuredHere(what) => format!("这台机器上的测量：{what}。"),
        Msg::PathCalls {
            syscalls: Some(n),
            by_name,
        } => format!(
            "{} 次系统调用（{by_name}）= {} 次用户态↔内核态切换",
            thousands(*n),
            thousands(2 * n)
        ),
        Msg::PathCalls {
            syscalls: None,
            by_name,
        } => format!(
            "系统调用 n/a：perf 无法计数（见 `copylab doctor`），路径自己数到的是 {by_name}"
        ),
        Msg::ServingCopy { ms_per_gib: Some(s) } => {
            format!("发送线程每 GiB 花 {s:.0} ms 在拷贝函数里")
        }
        Msg::ServingCopy { ms_per_gib: None } => {
            "拷贝时间 n/a（perf 采样被拒绝：请用 root 运行）".into()
        }
        Msg::PathHere { bytes, calls, copy } => format!("{}：{calls}；{copy}", size(*bytes)),
        Msg::MmapHere {
            bytes,
            calls,
            minor_faults,
            copy,
        } => format!(
            "{}：{calls}；次缺页 {} 次；{copy}",
            size(*bytes),
            thousands(*minor_faults)
        ),
        Msg::SendfileHere {
            bytes,
            calls,
            copy,
            read_write_ms_per_gib,
        } => format!(
            "{}，阻塞 socket：{calls}；{copy}（read-write 为 {}）",
            size(*bytes),
            or_na(*read_write_ms_per_gib, |s| format!("{s:.0} ms"))
        ),
        Msg::ReceiverCopy { ms_per_gib: Some(r) } => format!(
            "用 sendfile 时接收线程每 GiB 拷贝 {r:.0} ms —— 回环上没有网卡，这是唯一剩下的拷贝"
        ),
        Msg::ReceiverCopy { ms_per_gib: None } => {
            "接收端的拷贝时间 n/a（perf 采样被拒绝：请用 root 运行）".into()
        }
        Msg::Parallel {
            connections,
            file_bytes,
            cached_pct,
            aggregate_mib_s,
            sendfile_calls,
            partial,
            eagain,
        } => format!(
            "这台机器上的测量：{connections} 个连接同时读取同一个 {} 的文件（之前 {} 在页缓存里），由 `copylab fetch --connections {connections}` 接收：合计 {} MiB/s；每个连接在非阻塞 socket 上调用 sendfile {sendfile_calls} 次：{partial} 次只写进一部分（socket 缓冲区满了），{eagain} 次返回 EAGAIN，在 poll 里等到 socket 可写再继续。",
            size(*file_bytes),
            or_na(*cached_pct, |c| format!("{c:.0}%")),
            or_na(*aggregate_mib_s, |m| format!("{m:.0}")),
        ),
        Msg::WitnessNotAvailable { why } => {
            format!("Java transferTo 程序的 sendfile 调用：n/a（{why}）。")
        }
        Msg::WitnessTraced {
            java,
            jdk,
            copy_file_range_calls,
            copy_file_range_errors,
            file_bytes,
            transfer_to_calls,
            transfer_to_partial,
            sendfile_calls,
            sendfile_bytes,
            sendfile_errors,
            path,
        } => format!(
            "这台机器上的测量：Java {java} 在非阻塞 SocketChannel 上用 FileChannel.transferTo 发送 {} 的文件：transferTo 调用 {} 次，其中部分写入 {} 次；`copylab trace` 看到 copy_file_range {} 次（失败 {} 次）、sendfile64 {} 次，共移动 {} 字节（文件 {} 字节），其中 {} 次返回 EAGAIN —— {}。trace 的结论：{path}",
            size(*file_bytes),
            thousands(*transfer_to_calls),
            thousands(*transfer_to_partial),
            thousands(*copy_file_range_calls),
            thousands(*copy_file_range_errors),
            thousands(*sendfile_calls),
            thousands(*sendfile_bytes),
            thousands(*file_bytes),
            thousands(*sendfile_errors),
            match jdk {
                JdkTransfer::SendfileOnly => "这个 JDK 直接用 sendfile（先试 copy_file_range 是 JDK 20 才有的，JDK-8292562）",
                JdkTransfer::CopyFileRangeFirst => "每次 transferTo 都先试 copy_file_range，被 socket 拒绝后再退回 sendfile（JDK-8292562）",
            },
        ),
        Msg::SelfCountedNames(names) => format!("自行计数：{names}"),
        Msg::NoServingCopy {
            paths,
            most,
            read_write,
        } => format!(
            "{}：发送线程什么也没拷贝（至多 {most} ms/GiB；read-write 为 {read_write}）。",
            and_list(paths.iter())
        ),
        Msg::CopiedInSoftirq { paths } => format!(
            "{} 的发送线程仍有拷贝，发生在软中断中：回环上内核会为本机的接收端拷贝零拷贝发送的页。",
            and_list(paths.iter().map(|(p, v)| format!("{p}（{v} ms/GiB）")))
        ),
        Msg::ReceiversCopied { lo, hi } => format!(
            "每个接收端仍在 recv 中把每个字节拷贝了一遍：{}{} ms/GiB，无论发送端怎么做——这就是教科书漏掉的那次拷贝。",
            lo,
            hi.map_or(String::new(), |hi| format!("–{hi}"))
        ),
        Msg::EndToEnd {
            read_write_ns,
            paths,
        } => format!(
            "两个线程合计每 GiB 的 CPU，与 read-write 的 {} ms 相比（逐次配对，中位数与范围）：{}。",
            crate::size::fmt_ms(*read_write_ns),
            paths
                .iter()
                .map(|(p, r)| match r {
                    Paired::WithinNoise => format!("{p} 在噪声范围内"),
                    Paired::Ratio {
                        median,
                        range: Some((lo, hi)),
                    } => format!("{p} {median:.2}×（{lo:.2}–{hi:.2}）"),
                    Paired::Ratio {
                        median,
                        range: None,
                    } => format!("{p} {median:.2}×"),
                    Paired::NotMeasured => format!("{p} 不可用"),
                })
                .collect::<Vec<_>>()
                .join("，")
        ),
        Msg::ServingSyscalls { paths, read_write } => format!(
            "发送线程每次传输的系统调用：{}；read-write 为 {}。",
            paths
                .iter()
                .map(|(p, n)| format!("{p} {}", thousands(*n)))
                .collect::<Vec<_>>()
                .join("，"),
            thousands(*read_write)
        ),
        Msg::ReceiveTitle => "receive —— 教科书漏掉的那次拷贝：接收端能不能也省掉？".into(),
        Msg::ReceiveHeading(h) => receive_heading(*h).into(),
        Msg::Receive(r) => receive(*r).into(),
        Msg::ReceiverTitle(k) => receiver_title(*k).into(),
        Msg::ReceiveLegend => "DMA = 设备拷贝（接收网卡写入内存；回环上没有这一步） · CPU = 处理器拷贝 · ref = 移动页引用 · map = 页映射进接收方 · drop = 字节未读就被释放，没有拷贝".into(),
        Msg::ReceiveFigures {
            bytes,
            runs,
            link,
            placement,
        } => format!(
            "数据来源：{} 分别用 sendfile 和 MSG_ZEROCOPY 发给每种接收方，经 {link}，{placement}，每一对 {runs} 次运行的中位数（即 `copylab compare --methods sendfile,msg-zerocopy --receive all`）。接收 sys = 接收线程的内核态 CPU；拷贝 = cpu-clock 采样落在拷贝函数里的时间；都按每 GiB 计。",
            size(*bytes)
        ),
        Msg::ReceivePair {
            sender,
            receiver,
            rx_sys_ms,
            rx_sys_lo,
            rx_sys_hi,
            baseline,
            ratio,
            within_noise,
            tx_copy_ms,
            rx_copy_ms,
            mapped_pct,
            outcome,
        } => format!(
            "{sender} → {receiver}：接收 sys {} ms/GiB（{}–{}）{}；发送线程拷贝 {}，接收路径拷贝 {}{}：{}。",
            ms(*rx_sys_ms),
            ms(*rx_sys_lo),
            ms(*rx_sys_hi),
            match ratio {
                _ if *baseline => "，其余各对都和它比".to_string(),
                None => String::new(),
                Some(x) if *within_noise => {
                    format!("，是 sendfile → recv 的 {x:.2} 倍，在各次运行的噪声之内")
                }
                Some(x) => format!("，是 sendfile → recv 的 {x:.2} 倍"),
            },
            or_na(*tx_copy_ms, |v| format!("{} ms/GiB", ms(v))),
            or_na(*rx_copy_ms, |v| format!("{} ms/GiB", ms(v))),
            match mapped_pct {
                Some(p) => format!("，映射了 {p:.1}%"),
                None => String::new(),
            },
            outcome_words(*outcome),
        ),
        Msg::ReceiveNa { pair, why } => format!("{pair}：n/a —— {why}。"),
        Msg::BandShort(b) => match b {
            Band::User => "用户态",
            Band::Kernel => "内核态",
            Band::Hardware => "硬件",
        }
        .into(),
        Msg::Thread(Side::Serving) => "服务线程（发送端）".into(),
        Msg::Thread(Side::Receiving) => "接收线程".into(),
        Msg::WireDma => "真实网络上，接收网卡用 DMA 把每个包写进内存；回环上（copylab 测的就是回环）没有网卡、没有 DMA：发送端的 skb 原样排进接收 socket 的队列，连页引用一起".into(),
        Msg::FigCache(state) => match state {
            CacheState::Warm => "已缓存：未读盘",
            CacheState::Cold => "从磁盘读",
            CacheState::Partial => "部分缓存",
            CacheState::Unknown => "",
        }
        .into(),
        Msg::FigNoNic(t) => match t {
            Transport::Tcp => "lo：无网卡、无 DMA",
            Transport::Veth => "veth：无网卡、无 DMA",
            Transport::Unix => "unix socket：无网卡",
        }
        .into(),
        Msg::FigWire(t) => match t {
            Transport::Tcp => "lo：skb 直接交过去",
            Transport::Veth => "veth：skb 直接交过去",
            Transport::Unix => "unix：skb 入队",
        }
        .into(),
        Msg::FigFaults(n) => format!("{} 次缺页", thousands(*n)),
        Msg::FigCopy { steps, ms_per_gib } => {
            let fig = or_na(*ms_per_gib, |v| format!("{} ms/GiB", ms(v)));
            if steps.is_empty() {
                format!("拷贝 {fig}")
            } else {
                format!("{steps} 拷贝 {fig}")
            }
        }
        Msg::FigCopied { copied, sends } => format!("{copied}/{sends} 次发送被拷贝"),
        Msg::FigEnters(n) => format!("io_uring_enter ×{}", thousands(*n)),
        Msg::FigSyscalls(n) => format!("{} 次系统调用", thousands(*n)),
        Msg::FigMapped(p) => format!("映射 {p:.0}%"),
        Msg::CountedBy(Counted::Perf) => "由 perf 在发送线程上统计".into(),
        Msg::CountedBy(Counted::SelfCounted) => "由 copylab 自己统计：这里 perf 无法计数".into(),
        Msg::AskSpliceCalls { bytes, pipe_bytes } => format!(
            "splice 经一个 {} 的管道发送 {}，需要多少次系统调用？",
            size(*pipe_bytes),
            size(*bytes)
        ),
        Msg::WhySpliceCalls {
            bytes,
            pipe_granted,
            pipe_fulls,
            predicted,
            measured,
            by,
        } => format!(
            "每装满一次管道两次 splice（文件 → 管道，管道 → socket）：内核给了 {pipe_granted} 的管道，{} 是 {pipe_fulls} 管道，模型说 {predicted} 次；实测 {measured} 次（{by}）。",
            size(*bytes)
        ),
        Msg::AskReadWriteCalls {
            bytes,
            buffer_bytes,
        } => format!(
            "read-write 用 {} 的缓冲区发送 {}，要多少次系统调用？",
            size(*buffer_bytes),
            size(*bytes)
        ),
        Msg::WhyReadWriteCalls {
            chunks,
            predicted,
            measured,
            by,
        } => format!(
            "每个缓冲区一次 pread64、一次 write：{chunks} 个缓冲区，模型说 {predicted} 次；实测 {measured} 次（{by}）。"
        ),
        Msg::AskReadWriteTransitions {
            bytes,
            buffer_bytes,
        } => format!(
            "read-write 用 {} 的缓冲区发送 {}，要多少次用户态↔内核态切换？",
            size(*buffer_bytes),
            size(*bytes)
        ),
        Msg::WhyReadWriteTransitions {
            syscalls,
            transitions,
            by,
        } => format!(
            "每次系统调用两次切换（进入、返回），每个缓冲区一次 pread64 加一次 write：实测 {syscalls} 次系统调用（{by}），所以是 {transitions} 次切换 —— 教科书的 4 次只是一个缓冲区。"
        ),
        Msg::AskSendfileCalls { bytes } => format!(
            "sendfile 在阻塞 socket 上发送 {}，需要多少次系统调用？",
            size(*bytes)
        ),
        Msg::WhySendfileCalls { measured, by } => format!(
            "一次 sendfile 最多移动 2 GiB − 4 KiB，阻塞 socket 会等到全部放进去；实测 {measured} 次（{by}）。非阻塞 socket（Kafka）上会是多次部分写入。"
        ),
        Msg::AskMostCopy {
            bytes,
            buffer_bytes,
            note,
        } => format!(
            "发送 {}{note} 时（read-write 用 {} 的缓冲区），哪条路径让发送线程拷贝得最多？",
            size(*bytes),
            size(*buffer_bytes)
        ),
        Msg::CopySizeNote { asked } => format!(
            "（比 --size 的 {} 大：拷贝时间每毫秒 CPU 才采样一次，文件太小样本不够）",
            size(*asked)
        ),
        Msg::WhyMostCopy { figures, runs } => format!(
            "发送线程的采样拷贝时间，每 GiB 毫秒数，{runs} 次运行的中位数（最小–最大）：{figures}。mmap 的缺页发生在 write() 的拷贝里，算作拷贝；sendfile 和 splice 交给 socket 的是页引用。"
        ),
        Msg::OutsideNoise => "其他路径的范围都够不到最高者。".into(),
        Msg::InsideNoise { names } => {
            format!("在这几次运行的噪声之内：{names} 的范围与最高者重叠，也算对。")
        }
        Msg::Tie { names } => format!("{} 测得的次数相同，都算对。", names.join(" 和 ")),
        Msg::CopyFigure {
            name,
            median,
            lo,
            hi,
        } => format!("{name} {median:.0}（{lo:.0}–{hi:.0}）"),
        Msg::AskMostSyscalls {
            bytes,
            buffer_bytes,
            pipe_bytes,
        } => format!(
            "发送 {}，read-write 用 {} 的缓冲区、splice 用 {} 的管道，哪条路径的系统调用最多？",
            size(*bytes),
            size(*buffer_bytes),
            size(*pipe_bytes)
        ),
        Msg::WhyMostSyscalls { figures, by } => format!(
            "实测系统调用：{figures}（{by}）。read-write 每个缓冲区两次，splice 每管道两次，mmap 一共三次，sendfile 一次。"
        ),
        Msg::AskMmapFaults { bytes } => format!(
            "mmap 发送已在页缓存里的 {}，会有多少次次缺页（minor fault）（次数取决于内核的 fault-around 和 folio 大小，不只看页数）？",
            size(*bytes)
        ),
        Msg::WhyMmapFaults {
            bytes,
            pages,
            measured,
            runs,
            lo,
            hi,
            tolerance_pct,
        } => format!(
            "{} 是 {pages} 个页，但一次缺页会把周围已缓存的页一起映射（mm/memory.c 的 do_fault_around，fault_around_bytes），大 folio 还能整块映射，所以实测只有 {measured} 次（{runs} 次运行的中位数，范围 {lo}–{hi}；getrusage，发送线程）。这个数取决于内核和页缓存里 folio 的大小：误差 {tolerance_pct}% 以内都算对，这几次运行测到的都在其中。",
            size(*bytes)
        ),
        Msg::AskReceiveMapped { sender, bytes } => format!(
            "{sender} 经回环（lo 的 MTU 设成每个分段正好装整页）把 {} 发给一个用 TCP_ZEROCOPY_RECEIVE 的接收方：其中有多少被映射进接收方，而不是被拷贝？",
            size(*bytes)
        ),
        Msg::Share(s) => match s {
            MappedShare::AlmostNone => "几乎没有（< 5%）",
            MappedShare::Some => "一部分（5–95%）",
            MappedShare::AlmostAll => "几乎全部（≥ 95%）",
        }
        .into(),
        Msg::WhyReceiveMapped {
            sender,
            mapped_pct,
            lo_pct,
            hi_pct,
            runs,
            copybuf_pct,
            hint_pct,
            owned,
        } => format!(
            "测得映射了 {mapped_pct:.1}%（{runs} 次运行的中位数，{lo_pct:.1}–{hi_pct:.1}%）；{copybuf_pct:.1}% 被拷进拷贝缓冲区，{hint_pct:.1}% 按 recv_skip_hint 用 recv 读走。{}",
            if *owned {
                format!(
                    "can_map_frag()（net/ipv4/tcp.c）只映射整页、不是复合页、而且不属于任何人的页（page->mapping == NULL）：{sender} 的页就是文件的页缓存页（page->mapping 指向文件），所以内核改为拷贝。"
                )
            } else {
                "回环上，内核在本机 socket 能持有 MSG_ZEROCOPY 的页之前先把它们拷一份（skb_copy_ubufs）：接收方映射的是这些新拷出来的页 —— 拷贝挪到了发送端，并没有消失。".to_string()
            }
        ),
        Msg::AskColdSendfile { bytes } => format!(
            "发送 {} 时，--cache cold 会改变 sendfile 的系统调用次数吗？",
            size(*bytes)
        ),
        Msg::Yes => "是".into(),
        Msg::No => "否".into(),
        Msg::WhyColdChanged { cold, warm, by } => format!(
            "冷缓存 {cold} 次，热缓存 {warm} 次（{by}）：这次冷读时 sendfile 返回得更早，调用方又调用了几次。"
        ),
        Msg::WhyColdSame { cold, warm, by } => format!(
            "冷缓存 {cold} 次，热缓存 {warm} 次（{by}）：读盘发生在同一次 sendfile 里面（以及预读），不会多出调用；变的是等待读盘的时间。"
        ),
        Msg::AnswerExactly => "（整数，须完全一致）".into(),
        Msg::AnswerWithin { pct } => format!("（整数；误差 {pct}% 以内算对）"),
        Msg::QuizHeader { seed, total } => format!(
            "copylab quiz · 种子 {seed}（--seed {seed} 给出同样的题目）· 共 {total} 题，每题都用这次运行测出的数字判分"
        ),
        Msg::NotAsked => "未出题：".into(),
        Msg::TryAgain { why } => format!("{why}；请再答一次"),
        Msg::AlsoRight { choices } => format!("（也算对：{}）", choices.join("、")),
        Msg::Right => "对".into(),
        Msg::Wrong => "错".into(),
        Msg::Verdict {
            mark,
            answer,
            also,
            explanation,
        } => format!("{mark} —— 这次测得：{answer}{also}。{explanation}"),
        Msg::AnswerMeasured => "答案（这次运行测得）：".into(),
        Msg::Score { score, total } => format!("得分 {score}/{total}"),
        Msg::Stopped { answered, total } => {
            format!("（答了 {answered} 题就结束了，共 {total} 题）")
        }
    }
}

fn band(b: Band) -> &'static str {
    match b {
        Band::User => "用户空间",
        Band::Kernel => "内核空间",
        Band::Hardware => "硬件",
    }
}

fn place(p: Place) -> &'static str {
    match p {
        Place::Disk => "磁盘",
        Place::PageCache => "页缓存",
        Place::UserBuffer => "用户缓冲区",
        Place::UserMapping => "用户映射区",
        Place::Pipe => "管道 pipe",
        Place::SocketBuffer => "socket 缓冲区",
        Place::Nic => "网卡 NIC",
        Place::DevNull => "/dev/null",
        Place::Freed => "释放",
        Place::CopyBuffer => "拷贝缓冲区",
    }
}

fn step(k: StepKind) -> &'static str {
    match k {
        StepKind::Dma => "DMA 拷贝：由设备完成，不占 CPU",
        StepKind::Cpu => "CPU 拷贝：每个字节都由 CPU 复制",
        StepKind::CpuUnlessSg => {
            "设备支持分散/聚集 DMA（SG-DMA）时没有拷贝（skb 的 frags 只持有页引用，网卡直接从页缓存读），不支持时是一次 CPU 拷贝"
        }
        StepKind::Reference => "只移动页引用，没有拷贝",
        StepKind::Map => "页被映射进进程地址空间，没有拷贝",
        StepKind::Pin => {
            "页面固定（pin）后借给 socket，直到完成通知；设备支持 SG-DMA 时没有拷贝，不支持时 TCP 照样拷贝"
        }
        StepKind::Drop => "字节未读就被丢掉，没有拷贝",
    }
}

fn title(m: MethodKind) -> &'static str {
    match m {
        MethodKind::ReadWrite => "read-write —— read() 读入缓冲区，再 write() 到 socket",
        MethodKind::Mmap => "mmap —— 映射文件，直接从映射区 write()",
        MethodKind::Sendfile => {
            "sendfile —— 一次调用，在内核里从文件到 socket（Kafka 的 transferTo）"
        }
        MethodKind::Splice => "splice —— 文件 → 管道 → socket，移动页引用而不是字节",
        MethodKind::Vmsplice => "vmsplice —— 读入新页，把页借给管道，再 splice 到 socket",
        MethodKind::MsgZerocopy => {
            "msg-zerocopy —— 从映射区 send(MSG_ZEROCOPY)，完成通知在错误队列里"
        }
        MethodKind::IoUringSplice => "io-uring-splice —— splice 的管道路径，经 io_uring 批量提交",
        MethodKind::IoUringSendZc => {
            "io-uring-send-zc —— 经 io_uring 的零拷贝发送，每次两个完成事件"
        }
    }
}

fn heading(h: Heading) -> &'static str {
    match h {
        Heading::Steps => "步骤",
        Heading::Receiver => "接收端 —— 教科书漏掉的那次拷贝",
        Heading::Textbook => "教科书的说法",
        Heading::Reality => "Linux 实际上怎么做",
        Heading::Measured => "在这台机器上的测量",
        Heading::Sources => "出处",
        Heading::Myths => "面试中的误区，逐条纠正",
    }
}

fn receive_heading(h: ReceiveHeading) -> &'static str {
    match h {
        ReceiveHeading::Question => "问题",
        ReceiveHeading::WhyNoMap => "为什么 sendfile 的页永远映射不了",
        ReceiveHeading::Lesson => "结论",
        ReceiveHeading::Bench => "scripts/bench-receive.sh 在编写这段文字的机器上测得",
        ReceiveHeading::Measured => "在这台机器上的测量",
        ReceiveHeading::Sources => "出处",
    }
}

fn receiver_title(k: ReceiverKind) -> &'static str {
    match k {
        ReceiverKind::Recv => "recv —— recv() 读进缓冲区：内核拷贝每个字节",
        ReceiverKind::Trunc => "trunc —— 不带缓冲区的 recv(MSG_TRUNC)：只计字节数、丢掉，从不拷贝",
        ReceiverKind::Splice => "splice —— socket → 管道 → /dev/null：丢掉页引用，什么都不拷贝",
        ReceiverKind::Zerocopy => "zerocopy —— TCP_ZEROCOPY_RECEIVE：把 socket 的页映射进接收方",
    }
}

fn outcome_words(o: ReceiveOutcome) -> &'static str {
    match o {
        ReceiveOutcome::Copied => "接收路径拷贝了每个字节",
        ReceiveOutcome::MovedToSender => "接收端没有拷贝 —— 拷贝挪到了发送端",
        ReceiveOutcome::Mapped => "已映射，两端都没测到拷贝",
        ReceiveOutcome::Dropped => "没有拷贝 —— 数据被丢掉了",
        ReceiveOutcome::Unknown => "采样太少，说不清在哪里拷贝",
    }
}

fn receive(r: ReceiveLine) -> &'static str {
    match r {
        ReceiveLine::Intro => {
            "用 sendfile 或 splice 时服务线程什么都不拷贝，但接收方的 recv() 仍要把每个字节从 socket 拷出来：在同一台机器上，剩下的就是这一次拷贝。接收端能不能也省掉？"
        }
        ReceiveLine::Four => {
            "Linux 有四种从 TCP socket 取数据的办法，下面从网卡开始逐一画出：recv() 拷贝；recv(MSG_TRUNC) 和 splice 到 /dev/null 根本不看数据；TCP_ZEROCOPY_RECEIVE 在内核允许的地方把 socket 的页映射进接收方。`copylab compare --receive all` 把每种接收方和每种发送方配对来测。"
        }
        ReceiveLine::MapConditions => {
            "TCP_ZEROCOPY_RECEIVE 只在 can_map_frag()（net/ipv4/tcp.c）同意时才映射 socket 数据的一个分片：必须是整页（偏移 0、长 PAGE_SIZE），不是复合页的一部分，而且不属于任何人 —— page->mapping == NULL。其余的都要拷贝：拷进拷贝缓冲区，或者留给一次读 recv_skip_hint 字节的 recv()。"
        }
        ReceiveLine::MapSendfile => {
            "sendfile（以及从文件 splice）把文件的页缓存页放进 skb，回环上正是这些页到达接收 socket。页缓存页的 page->mapping 指向它的文件，所以一页也映射不了。这项检查来自 “tcp: add sanity checks to rx zerocopy”（Linux 6.8，commit 577e4432f3ac，也回移到了 6.1-stable）：“TCP rx zerocopy intent is to map pages initially allocated from NIC drivers, not pages owned by a fs” —— syzbot 曾借 sendfile 经回环把 ext4 文件的页映射进了接收方。在那之前、没打补丁的内核可以映射它们。"
        }
        ReceiveLine::MapSelftest => {
            "内核自带的示例 tools/testing/selftests/net/tcp_mmap.c 说明了映射需要什么：“NIC with header split is needed” —— 每一帧的 TCP 负载必须是 PAGE_SIZE 的整数倍。在回环上它把 lo 的 MTU 设成 61512（15 × 4096 + 40 + 32：每个分段 15 页），copylab 在自己的私有网络命名空间里这样做，从不改主机的 lo；它还注明它的 MSG_ZEROCOPY 发送端 “forces a copy when packets go through loopback interface”。"
        }
        ReceiveLine::MapMsgZerocopy => {
            "MSG_ZEROCOPY 的页倒是能映射 —— 因为它们是拷贝：回环回来的 skb 要在本机 socket 里排队之前，skb_orphan_frags_rx → skb_copy_ubufs 把发送方固定的页拷进新的内核页（每个完成通知都说 SO_EE_CODE_ZEROCOPY_COPIED），新页不属于任何人。拷贝挪到了发送端，并没有消失。"
        }
        ReceiveLine::MapSpliceVmsplice => {
            "copylab 的 splice 和 vmsplice 发送端同样映射 0%：splice 和 sendfile 一样送的是页缓存页，vmsplice 借出的是进程自己的匿名页，它们的 page->mapping 也不为空（指向 anon_vma）。先 write 进管道再 splice 管道的发送端能映射（编写时用一个小 C 程序测得 99.5–100%）：它的拷贝发生在写管道的那一刻。"
        }
        ReceiveLine::MapZcrx => {
            "io_uring 的零拷贝接收（IORING_OP_RECV_ZC，Documentation/networking/iou-zcrx.rst）改为直接收进应用自己的内存 —— 但它需要一个支持头/数据分离（header/data split）和流导向的网卡队列：在 lo 和 veth 上注册会以 EOPNOTSUPP 失败。"
        }
        ReceiveLine::Lesson => "在同一台机器上，最后这次拷贝可以挪走，或者把数据丢掉，但去不掉。",
        ReceiveLine::LessonMoved => {
            "挪走：TCP_ZEROCOPY_RECEIVE 只映射不属于任何人的页，所以总得有人先把数据放进这样的页 —— 在同一台机器上就是发送端的一次 CPU 拷贝（MSG_ZEROCOPY 的 skb_copy_ubufs，或写进管道）。两台机器之间，这次拷贝由接收网卡的 DMA 完成，不花 CPU。"
        }
        ReceiveLine::LessonDropped => {
            "丢掉：recv(MSG_TRUNC) 和 splice 到 /dev/null 什么都不拷，是因为没人读这些字节 —— 这是跑分的技巧（iperf3 --skip-rx-copy），不是使用数据的办法。改成把 socket splice 进文件，拷贝又回来了（iter_file_splice_write）。"
        }
        ReceiveLine::BenchWhat => {
            "scripts/bench-receive.sh：每一对 1 GiB，交错 5 轮，在一台和别的任务共用的 2 vCPU 虚拟机上（Linux 6.18），噪声不小；每个倍数都是接收线程每 GiB 的内核态 CPU 与同一次运行里 sendfile → recv 的比值。"
        }
        ReceiveLine::BenchPinned => {
            "两个线程分别绑在 CPU 0 和 1 上：trunc 0.69 倍（各轮 0.57–0.79 倍），splice → /dev/null 0.79 倍，丢数据的接收方拷贝占比降到采样的 0–0.6%。绑核时省得比不绑核少：不再拷贝的接收方醒得更勤、每次拿到的更少（每 GiB 10,568 次 recv，而不是 2,157 次），要处理的窗口更新也更多。"
        }
        ReceiveLine::BenchUnpinned => {
            "不绑核（--cpus any）：trunc 一次 0.47 倍（各轮 0.40–0.73 倍）、另一次 0.57 倍，splice 0.54 倍和 0.63 倍 —— 比值随调度器把两个线程放在哪里而变。"
        }
        ReceiveLine::BenchZerocopy => {
            "sendfile 发给 zerocopy 时映射 0%，比 recv 还贵（绑核 1.86 倍，不绑核 1.31–1.56 倍）：每次 getsockopt 只拷大约一个分段。MSG_ZEROCOPY 发来时映射了 99.3%，接收方的拷贝占比降到 0.6%，可它的内核态 CPU 绑核时仍是 recv 的 1.32 倍（不绑核 0.79–1.05 倍）：插入和清除页表项的开销和拷贝差不多 —— 这里两个线程属于同一进程，MADV_DONTNEED 的 TLB 刷新也会打到发送方的 CPU（tcp_mmap 用两个进程）—— 而拷贝由发送端付了。"
        }
        ReceiveLine::RunMeasure => {
            "运行 `copylab explain receive --measure`（需要 root：zerocopy 接收方要用私有网络命名空间），每一对都在这台机器上测一遍。"
        }
    }
}

fn receive_reality(k: ReceiverKind) -> &'static [&'static str] {
    match k {
        ReceiverKind::Recv => &[
            "tcp_recvmsg_locked 把每个 skb 的字节拷进你的缓冲区（skb_copy_datagram_msg → _copy_to_iter）：网卡 —— 回环上是发送端 —— 留在内存里的每个字节，CPU 都要读一遍、再写一遍。",
            "这是每个客户端都要做的拷贝，curl 和 Kafka 消费者都一样；服务端用 sendfile 时，在同一台机器上它就是剩下的唯一一次 CPU 拷贝。",
        ],
        ReceiverKind::Trunc => &[
            "带 MSG_TRUNC 时 tcp_recvmsg_locked 跳过 skb_copy_datagram_msg：数据流前进，skb 被释放，没有一个字节到达用户态 —— 缓冲区甚至可以是 NULL。",
            "数据什么也做不了：跑分时就是这样把接收方的拷贝排除在外的（iperf3 --skip-rx-copy、neper）。copylab 只能数字节数，没法校验内容。",
        ],
        ReceiverKind::Splice => &[
            "从 TCP socket splice（tcp_splice_read → skb_splice_bits）把 skb 的页按引用交给管道；splice 到 /dev/null（splice_write_null → pipe_to_null）不读就把它们释放。",
            "改成 splice 进文件，iter_file_splice_write 会经页缓存把这些页写进去：拷贝又回来了。",
        ],
        ReceiverKind::Zerocopy => &[
            "接收方 mmap 自己的 socket（PROT_READ、MAP_SHARED），再调用 getsockopt(TCP_ZEROCOPY_RECEIVE)：内核把排队的页插进这块映射（vm_insert_pages）而不是拷贝，能映射多少就映射多少；映射不了的页前面的字节被拷进拷贝缓冲区，或者留给一次读 recv_skip_hint 字节的 recv()。",
            "接收方读完后要清掉这些映射（MADV_DONTNEED），页才回到 socket：这些页表操作和随之而来的 TLB 刷新就是映射的代价。",
            "每个分段必须装整页：网卡要支持头/数据分离，回环上则要让 MSS 是 4096 的整数倍（copylab 用一个 lo 的 MTU 为 61512 的私有网络命名空间）。",
        ],
    }
}

fn kafka_heading(h: KafkaHeading) -> &'static str {
    match h {
        KafkaHeading::Question => "问题",
        KafkaHeading::ReadWrite => "① 传统路径 read + write",
        KafkaHeading::Mmap => "② mmap + write",
        KafkaHeading::Sendfile => "③ sendfile，以及 SG-DMA 改变了什么",
        KafkaHeading::Splice => "④ splice",
        KafkaHeading::Uses => "Kafka 在哪里用",
        KafkaHeading::DoesNot => "哪里用不上",
        KafkaHeading::Parallel => "“并行 transferTo”",
        KafkaHeading::Stays => "什么省不掉",
        KafkaHeading::Witness => "旁证：Java 的 FileChannel.transferTo",
        KafkaHeading::Consumer => "消费者这一端",
        KafkaHeading::Answer => "面试时可以这样答",
        KafkaHeading::FollowUps => "追问",
        KafkaHeading::Sources => "出处",
    }
}

fn kafka(k: Kafka) -> &'static str {
    match k {
        Kafka::Intro => {
            "回答从传统路径讲到 sendfile，再讲 Kafka 在哪里用、哪里用不上、什么省不掉。加上 --measure，每一步旁边都有这台机器上测出的数字。"
        }
        Kafka::RunMeasure => {
            "运行 `copylab explain kafka --measure`，每一步的数字就在这台机器上测出来。"
        }
        Kafka::RwWholeFile => {
            "整个文件算下来，拷贝仍是每字节 4 次，切换却是每个缓冲区 4 次：1 GiB 的日志段配 128 KiB 的缓冲区是 16,384 次系统调用、32,768 次切换。只有页缓存未命中时才有磁盘 DMA，页缓存命中时根本不读盘。"
        }
        Kafka::MmapCopies => {
            "mmap() 把页缓存映射进进程，write() 从映射区拷到 socket 缓冲区：3 次拷贝（1 次 CPU、2 次 DMA），仍是 4 次切换（mmap、write）。"
        }
        Kafka::SendfileOneCall => {
            "sendfile() 一次调用就在内核里把文件送到 socket：2 次切换，没有用户缓冲区。"
        }
        Kafka::SendfileSg => {
            "没有分散/聚集 DMA（SG-DMA）时，内核仍要把页缓存拷到 socket 缓冲区：3 次拷贝（1 次 CPU）。有 SG-DMA 时 skb 只持有页缓存页的引用（frags），网卡用 DMA 把它们聚集起来：2 次拷贝，都是 DMA，没有 CPU 拷贝。这才是零拷贝的“零”。"
        }
        Kafka::SendfileNoCompletion => {
            "在途的页没有完成通知：sendfile 返回之后再改文件，改动仍可能被发出去。"
        }
        Kafka::UsesChain => {
            "broker 从日志段文件响应消费者拉取和副本（follower）拉取：FileRecords.writeTo → TransferableChannel.transferFrom → PlaintextTransportLayer → FileChannel.transferTo → sendfile。"
        }
        Kafka::UsesCached => {
            "消费者通常读的是生产者刚写的数据，还在页缓存里：这样的拉取根本不读盘。"
        }
        Kafka::NotMmap => {
            "mmap：Kafka 映射的是索引文件（.index、.timeindex），不是日志。从 mmap 的 commit log 里发消息是 RocketMQ 的设计 —— 两者常被混为一谈。"
        }
        Kafka::ParallelOneCopy => {
            "很多消费者经很多连接读同一个已缓存的日志段：内存里只有一份页，每个连接各自从它 transferTo。"
        }
        Kafka::ParallelNonBlocking => {
            "Kafka 的 socket 是非阻塞的（Java NIO）：每次 transferTo 只写 socket 缓冲区放得下的部分，返回部分字节数；网络线程去服务别的连接，等 socket 可写时再调用。"
        }
        Kafka::ConsumerReads => {
            "Kafka 消费者一定会在 recv() 里拷贝：客户端用 NetworkReceive.readFrom → PlaintextTransportLayer.read → SocketChannel.read 把每个拉取响应读进 MemoryPool 给的 ByteBuffer（MemoryPool.NONE：ByteBuffer.allocate，堆上的缓冲区）。对堆缓冲区，JDK 先读进一个临时的直接缓冲区再拷过去（sun.nio.ch.IOUtil.read）：用户态里又多一次拷贝。"
        }
        Kafka::ConsumerNoZeroCopy => {
            "Kafka 4.x 没有接收端的零拷贝：客户端既不映射 socket（TCP_ZEROCOPY_RECEIVE），也不用 splice，JDK 也都不提供。broker 的 sendfile 省的是 broker 的拷贝，不是消费者的。"
        }
        Kafka::ConsumerOneHost => {
            "就算接收方映射了 socket，在同一台机器上这次拷贝也不会消失：它只能挪到发送端，或者把数据丢掉，而不能去掉 —— `copylab explain receive` 把每种做法都测一遍。"
        }
        Kafka::StaysCopies => {
            "DMA 拷贝还在（未命中时磁盘 → 页缓存，socket 缓冲区 → 网卡），接收端的拷贝也在：消费者的 recv() 把每个字节从 socket 拷进自己的 JVM。"
        }
        Kafka::Answer1 => {
            "传统方式用 read + write 发文件：4 次拷贝，2 次 DMA、2 次经用户缓冲区的 CPU 拷贝，每个缓冲区 4 次用户态↔内核态切换。"
        }
        Kafka::Answer2 => {
            "mmap + write 省掉拷到用户态的那一次，但拷到 socket 的那一次还在，还要付缺页的代价。"
        }
        Kafka::Answer6 => {
            "消息放在页缓存而不是 JVM 堆里：没有 GC 压力，不会缓存两份，broker 重启后缓存还在；最近的数据通常都在缓存里，一次拉取很少碰磁盘。"
        }
        Kafka::Answer8 => {
            "生产请求不是零拷贝（读进 JVM、校验、经页缓存写入，也不是每个请求都 fsync）；TLS 也不是，必须在 JVM 里加密 —— 4.0 删掉给老客户端的格式下转换（KIP-896）之后，TLS 是 Kafka 4.x 里剩下的主要例外。"
        }
        Kafka::RwCopies => {
            "read() 把页缓存（PageCache）拷到用户缓冲区，write() 再把用户缓冲区拷到 socket 缓冲区，磁盘和网卡各加一次 DMA：4 次拷贝（2 次 CPU、2 次 DMA），4 次用户态↔内核态切换 —— 这只是一个缓冲区的数据。"
        }
        Kafka::MmapFaults => {
            "mmap 只保留地址范围：页在第一次访问时由次缺页映射（这里发生在 write() 里），一次缺页会映射很多页（fault-around、大 folio）；文件被截断会触发 SIGBUS。"
        }
        Kafka::SpliceBase => {
            "从 Linux 2.6.23 起 sendfile 基于 splice 实现：do_sendfile → do_splice_direct → splice_direct_to_actor，数据经过内核为当前任务保留的内部管道（current->splice_pipe）；从 Linux 6.5 起，通往 socket 的那一端是 splice_to_socket（MSG_SPLICE_PAGES），之前是 pipe_to_sendpage 调用 socket 的 ->sendpage。splice 本身要你自己建管道：文件 → 管道 → socket，每装满一次管道两次调用；同样是有 SG-DMA 时 0 次 CPU 拷贝，没有时 1 次。"
        }
        Kafka::UsesSameBytes => {
            "为什么行得通：broker 存下的 record batch 就是它发出去的格式，所以响应拉取时从不解码、也不重新编码，直接把日志段的一段字节原样发出。不过存下来的并不逐字节等于生产者发来的：写入时 LogValidator 会就地改写批次头里的 offset 和分区 leader epoch，主题的 compression.type 和生产者的压缩算法不同时还会重新压缩。"
        }
        Kafka::UsesPosition => {
            "拉取的 offset 怎么变成一段字节：LogSegment.read → translateOffset 先在稀疏的 .index 里二分查找（OffsetIndex.lookup；默认每 4 KiB 日志记一条，log.index.interval.bytes），找到不大于该 offset 的最近一条，再从那里往后扫描批次头（FileRecords.searchForOffsetWithSize），最后 FileRecords.slice(position, size) 就是 transferTo(position, count) 要发的范围。索引之所以用 mmap，是因为一次查找就是几次随机读，经映射读不需要系统调用（AbstractIndex）。"
        }
        Kafka::UsesPageCache => {
            "为什么用页缓存而不是 JVM 堆：缓存的消息不给垃圾回收添压力，不会在堆和页缓存里各存一份，broker 重启后缓存依然是热的。"
        }
        Kafka::NotProduce => {
            "生产请求：broker 从 socket 读进 JVM，校验（LogValidator）后经页缓存追加到日志段 —— 没有零拷贝，也不会每个请求都 fsync：日志段滚动时才刷盘（UnifiedLog.roll 安排 flush-log），只有设置了 flush.messages 或 flush.ms（默认不开）才会更早刷；持久性靠副本（acks=all、min.insync.replicas）。"
        }
        Kafka::NotTls => {
            "TLS：SslTransportLayer 把文件读进 JVM（transferFrom 每次读 32 KiB 到一个直接缓冲区），由 SSLEngine 在那里加密，再把密文写进 socket，因为数据必须先拷到用户态（JVM）再加密。在 Kafka 4.x 里，这是零拷贝剩下的主要例外。nginx 在 TLS 下保住 sendfile 靠的是内核 TLS 和 SSL_sendfile：软件 kTLS 加密照样要 CPU 过一遍数据；网卡做 TLS 卸载时 CPU 不用加密，但 kTLS 的 sendfile 默认仍会把文件页拷贝一次 —— 零拷贝要显式打开（TLS_TX_ZEROCOPY_RO，Linux 5.19 起），因为发送途中页被改动，重传的数据就会和原来的不一致。"
        }
        Kafka::NotOldClients => {
            "老客户端（Kafka 4.0 之前）：从 0.10 到 3.9，需要旧消息格式的消费者由 broker 在 JVM 里做格式下转换（down-conversion，KIP-283 之后按块进行），这些拉取都要拷贝。Kafka 4.0 连同旧版 Fetch 协议一起删掉了下转换（KIP-896、KAFKA-18269）：message.downconversion.enable 不再起作用，老到不支持 v2 记录格式的客户端根本无法拉取。"
        }
        Kafka::NotCached => {
            "数据不在页缓存里（落后很多的消费者读旧日志段）：sendfile 会在 Kafka 的网络线程里读盘，这个线程上的其他连接都得排队等着（KAFKA-7504；先在请求处理线程里预热页缓存的修复方案 PR 14289 没有合入就关闭了）。"
        }
        Kafka::Answer3 => {
            "sendfile 一次调用在内核里完成：有分散/聚集 DMA（SG-DMA）时 socket 缓冲区只持有页缓存页的引用，网卡直接读，发送端不再有 CPU 拷贝 —— 2 次 DMA 拷贝，2 次切换。"
        }
        Kafka::Answer4 => {
            "Kafka 用它响应拉取（消费者和 follower 副本）：在 mmap 的稀疏 .index 里二分查找 offset，FileRecords.slice 圈出字节范围，再由 FileChannel.transferTo 发出，在 Linux 上就是 sendfile。"
        }
        Kafka::Answer5 => {
            "行得通是因为拉取从不重新编码：broker 把存下的批次原样发出；写入时 LogValidator 只是往批次头里填了 offset 和 leader epoch（主题的压缩算法不同时才重新压缩）。"
        }
        Kafka::Answer7 => {
            "数据不在缓存里时（消费者落后很多），sendfile 会在网络线程里读盘，拖住这个线程上的所有连接（KAFKA-7504）。"
        }
        Kafka::Answer9 => "Kafka 自己的 mmap 用在索引文件上，不是日志本身。",
        Kafka::Answer10 => {
            "零拷贝指的是 broker 上没有 CPU 拷贝：DMA 拷贝还在，消费者从 socket 拷出的那一次也还在。"
        }
        Kafka::FollowUp40 => {
            "“4.0 改了什么？”格式下转换没了（KIP-896），老客户端不会再逼 broker 拷贝，TLS 成了剩下的主要例外；message.format.version 也没了（KIP-724），所有批次都是 v2 格式。"
        }
        Kafka::FollowUpNotCached => {
            "“数据不在缓存里怎么办？”sendfile 照样发，但要先读盘，而且是在网络线程里读：落后的消费者会拖住这个线程上的其他连接（KAFKA-7504）。拷贝次数不变，多出来的是等待。"
        }
        Kafka::FollowUpSameBytes => {
            "“从生产者到消费者，字节完全一样吗？”不完全一样：LogValidator 会往批次头里写 offset 和 leader epoch（主题压缩算法不同时还会重新压缩）。准确的说法是：拉取从不重新编码，消费者拿到的就是存下来的批次。"
        }
        Kafka::FollowUpPosition => {
            "“broker 怎么找到位置？”在 mmap 的稀疏 .index 里二分查找不大于该 offset 的最近一条，再在 .log 里往后扫几个批次头，然后 FileRecords.slice(position, size) → transferTo(position, count)。"
        }
    }
}

fn reality(m: MethodKind) -> &'static [&'static str] {
    match m {
        MethodKind::ReadWrite => &[
            "教科书只算一次 read 和一次 write：一个缓冲区的数据 4 次拷贝、4 次切换。真实的服务器要循环：256 MiB 的文件配 128 KiB 的缓冲区，就是 2,048 次 read 和 2,048 次 write —— 8,192 次用户态↔内核态切换，而不是 4 次；拷贝仍是每字节 4 次（2 次 CPU、2 次 DMA）。",
            "copylab 用 pread64（显式偏移），所以同一个打开的文件可以同时服务多个连接。",
            "两次 CPU 拷贝都是真的：页缓存（PageCache）→ 你的缓冲区，你的缓冲区 → socket。",
        ],
        MethodKind::Mmap => &[
            "只 mmap 一次，再用尽量少的几次 write 把映射区交给 socket（socket 收多少就写多少）—— 但内核仍然要把页缓存拷贝到 socket 缓冲区。",
            "页必须映射进进程：会有 read-write 没有的次缺页（minor page fault）和页表开销。一次缺页会映射很多页：do_fault_around 经 filemap_map_pages 把出错地址周围已缓存的页（fault_around_bytes，默认 64 KiB）一起映射，大 folio 还能整块映射（filemap_map_pmd 一次缺页映射 2 MiB）。所以缺页次数远少于页数，具体多少取决于内核和页缓存里 folio 的大小：`copylab explain mmap --measure` 会数给你看。",
            "如果别的进程截断了文件，访问丢失的页会触发 SIGBUS；copylab 自己从不访问这些页，write 会返回 EFAULT。",
        ],
        MethodKind::Sendfile => &[
            "一次系统调用最多移动 2 GiB − 4 KiB（0x7ffff000 字节）：阻塞 socket 上 256 MiB 的文件一次调用就发完。非阻塞 socket（Java NIO，也就是 Kafka）上 socket 缓冲区一满 sendfile 就返回部分字节数，调用方等待后再调用。",
            "sendfile 从 Linux 2.6.23 起基于 splice 实现：do_sendfile → do_splice_direct → splice_direct_to_actor，数据经过内核为当前任务保留的内部管道（current->splice_pipe，第一次用时分配）：文件 → 管道由文件的 splice_read 完成，管道 → socket 由 splice_to_socket（MSG_SPLICE_PAGES）完成（Linux 6.5 起；之前是 pipe_to_sendpage 调用 socket 的 ->sendpage）。设备支持分散/聚集 DMA（SG-DMA，回环设备支持）时，skb 的 frags 只持有页缓存页的引用，网卡直接从那里读：发送端没有 CPU 拷贝。没有 NETIF_F_SG 时 tcp_sendmsg_locked 会拷贝。",
            "socket 引用页缓存页，却没有完成通知：sendfile 返回之后再改文件，只要数据还在 socket 缓冲区里，改动仍可能被发出去。",
            "回环上没有网卡，也没有到线路的 DMA：接收端的 recv() 是一次 CPU 拷贝，所以端到端的“零拷贝”并不是零。",
            "Java 的 FileChannel.transferTo 只在直接路径（目标是 socket 或文件通道）上才是 sendfile；否则按块 mmap 或经缓冲区循环拷贝。JDK 20 起（JDK-8292562，FileDispatcherImpl.c 的 transferTo0）对每个直接目标都先试 copy_file_range，socket 也不例外，遇到 EINVAL、ENOSYS、EXDEV 或 EOPNOTSUPP 再退回 sendfile：发往 socket 时，每次 transferTo 都是一次失败的 copy_file_range 加一次 sendfile64。Kafka 开启 TLS 后用不了它：数据必须先拷到用户态（JVM）再加密。",
        ],
        MethodKind::Splice => &[
            "每装满一次管道要两次调用：文件 → 管道，管道 → socket。管道大小（默认 64 KiB，最大 /proc/sys/fs/pipe-max-size）决定调用次数。",
            "进管道的是页引用而不是字节；管道 → socket 这一半就是 sendfile 用的代码（splice_to_socket、MSG_SPLICE_PAGES）：设备支持 SG-DMA 时没有拷贝，不支持时 tcp_sendmsg_locked 拷贝一次。而且数据必须经过一个你自己创建和管理的管道。",
            "SPLICE_F_MOVE 从 Linux 2.6.21 起就不起作用了；出错后留在管道里的字节从未发出。",
        ],
        MethodKind::Vmsplice => &[
            "vmsplice 把你的页借给管道而不是拷贝：write() 的拷贝没了，read() 的拷贝还在。",
            "问题在于：没有任何通知告诉你内核何时用完这些页。在回环上它们一直待在接收端的队列里，直到对方读走；在那之前改写它们，客户端收到的数据就变了。",
            "所以 copylab 从不复用页：每个 4 MiB 区域都是新 mmap 的，splice 完就 munmap。内核要把每个新页清零 —— 清零本身就是一次写内存，抵消了省下的拷贝 —— 每页还要一次缺页。",
            "管道 → socket 的 splice 就是 sendfile 的代码：有 SG-DMA 时没有拷贝，没有时一次。",
        ],
        MethodKind::MsgZerocopy => &[
            "先在 socket 上设 SO_ZEROCOPY，再 send(MSG_ZEROCOPY)：socket 对映射的页做页面固定（pin），调用在数据发出之前就返回。和 sendfile 一样，这需要设备支持 SG-DMA（NETIF_F_SG），否则 tcp_sendmsg_locked 照样拷贝。",
            "每次发送都欠一个完成通知，用 recvmsg(MSG_ERRQUEUE) 从 socket 的错误队列读取；内核会把它们合并成发送编号的区间。区间完成之前页的内容不能修改：网卡可能还在读（解除映射是允许的，socket 自己持有引用）。",
            "在回环上内核照样拷贝 —— 接收端可能永远不读 —— 并在每个完成通知里说明（SO_EE_CODE_ZEROCOPY_COPIED）。copylab 统计这些通知，而不是想当然。",
            "Unix socket 拒绝 SO_ZEROCOPY。固定的页太多（optmem_max、RLIMIT_MEMLOCK）时 send 返回 ENOBUFS：copylab 先读完成通知再重试，否则这一块用普通拷贝发送并如实报告。",
        ],
        MethodKind::IoUringSplice => &[
            "每装满一次管道还是两次 splice，但作为链接（link）的条目放进与内核共享的环：一次 io_uring_enter 提交整批（--batch）并等待。",
            "splice 无法以不阻塞的方式尝试，内核把它交给 io-wq 工作线程（iou-wrk-<tid>）。服务线程的系统调用和 CPU 下降了，工作量并没有。copylab 单独一行测量工作线程的 CPU。",
            "io_uring 是一种提交工作的方式：拷不拷贝取决于具体操作。IORING_OP_SPLICE 就是 splice，有 SG-DMA 时没有拷贝，没有时一次；这里要看的是系统调用那一列。",
        ],
        MethodKind::IoUringSendZc => &[
            "IORING_OP_SEND_ZC 像 MSG_ZEROCOPY 一样对映射的页做页面固定（pin），但不需要 SO_ZEROCOPY，也不用错误队列。",
            "每次发送完成两次：先是结果（发送的字节数，带 IORING_CQE_F_MORE），页释放后再来一个通知（IORING_CQE_F_NOTIF）。加上 IORING_SEND_ZC_REPORT_USAGE，通知会说明内核是否做了拷贝。",
            "同一个 socket 的发送被链接起来以保证字节流的顺序；一批用一次 io_uring_enter 提交。Unix socket 拒绝零拷贝发送。",
        ],
    }
}

static MYTH_LIST: [Myth; MYTHS] = [
    Myth {
        claim: "“read/write 有 4 次上下文切换”",
        truth: "这 4 次是用户态↔内核态的切换，每次系统调用 2 次。调度器的上下文切换是另一回事，由 perf 统计，取决于阻塞。copylab 两者都显示。",
        command: "copylab compare --methods read-write,sendfile",
    },
    Myth {
        claim: "“零拷贝就是数据从不被拷贝”",
        truth: "DMA 拷贝还在，回环上接收端的 recv() 也是一次 CPU 拷贝。sendfile 只去掉了发送端的 CPU 拷贝。",
        command: "copylab explain sendfile --measure",
    },
    Myth {
        claim: "“mmap 没有代价”",
        truth: "它用缺页和页表开销换掉一次拷贝；映射期间文件被截断会触发 SIGBUS。",
        command: "copylab compare --methods read-write,mmap",
    },
    Myth {
        claim: "“Kafka 的零拷贝很特别”",
        truth: "FileChannel.transferTo 在直接路径（目标是 socket 或文件通道）上就是 sendfile（JDK 20 起会先试 copy_file_range，失败再退回 sendfile）。开启 TLS 后 Kafka 用不了它：数据必须先拷到用户态（JVM）再加密。完整的回答见 `copylab explain kafka`。",
        command: "copylab explain kafka --measure",
    },
    Myth {
        claim: "“Rust 里 std::io::copy 从 File 到 TcpStream 会用 sendfile”",
        truth: "现在的 Rust 不会：它读进缓冲区，再用 sendto 写到 socket（copylab 自己调用 sendfile）。Rust 曾经在这里用过 sendfile 和 splice（rust-lang/rust#75272），后来（#108283）因为同一个隐患停用了：复制返回之后写进文件的字节仍可能到达对端。strace 要加上 sendto，否则看不到任何一次 socket 写。",
        command: "strace -f -e trace=sendfile,read,write,sendto <你的程序>",
    },
    Myth {
        claim: "“第一次和第十次运行的代价一样”",
        truth: "热的页缓存把磁盘藏起来了：页缓存命中时根本不读盘，只有冷读才有来自磁盘的 DMA。--cache cold 在每次运行前丢弃文件的页；可以看到 mmap 的主缺页和 read-write 的自愿上下文切换出现。",
        command: "copylab compare --cache cold   对比   copylab compare --cache warm",
    },
    Myth {
        claim: "“io_uring 就是零拷贝”",
        truth: "io_uring 是一种提交工作的方式，拷不拷贝取决于具体操作：IORING_OP_SEND_ZC 像 MSG_ZEROCOPY 一样做页面固定（pin），IORING_OP_SPLICE 像 splice 一样移动页引用，IORING_OP_READ 和 WRITE 照样拷贝。它的 splice 在内核工作线程里执行，服务线程看起来很闲，活却由另一个线程干了。",
        command: "copylab compare --methods splice,io-uring-splice",
    },
    Myth {
        claim: "“MSG_ZEROCOPY 让回环测试变成零拷贝”",
        truth: "在回环上内核会拷贝每一次零拷贝发送，并在完成通知里说明；只有大块数据发往真实网卡时零拷贝才划算。",
        command: "copylab compare --methods sendfile,msg-zerocopy",
    },
];

/// The HTML page's words.
const PAGE: PageWords = PageWords {
    lang: "zh-Hans",
    compare_title: "copylab 对比",
    sweep_title: "copylab 扫描",
    trace_title: "copylab 跟踪",
    file: "文件",
    generated: "生成的随机数据",
    transport: "传输",
    link: "链路限速",
    cache: "页缓存",
    kernel: "内核",
    machine: "机器",
    counters: "计数器",
    placement: "线程绑定",
    runs: |runs, warmup| format!("每种方法预热 {warmup} 次后测 {runs} 次，交替进行，取中位数"),
    runs_label: "运行",
    cache_warm: |p| format!("热：首次运行前文件 {p:.0}% 的页在页缓存中"),
    counters_perf: "perf：系统调用 tracepoint、软件事件与 cpu-clock 采样，发送线程与接收线程各自计数；另有 getrusage",
    pinned: |s, r| match (s, r) {
        (Some(s), Some(r)) if s == r => {
            format!("发送与接收线程都绑定在 CPU {s}（同一个 CPU：轮流运行）")
        }
        (Some(s), Some(r)) => format!("发送线程绑定 CPU {s}，接收线程绑定 CPU {r}"),
        _ => "未绑定：调度器会移动线程，数字随之变化".into(),
    },
    counters_rusage: "各线程 getrusage；系统调用由各方法自行计数（perf 被拒绝：见警告）",
    sampling: |us| format!("cpu-clock 采样：每个线程每用 {us} µs CPU 采一次，含内核调用链"),
    conclusions: "结论",
    table: "对比表",
    table_note: "各次运行的中位数（其下为最小–最大）；与终端表格的数字相同，取自 JSON 结果。",
    cpu: "CPU 花在哪里",
    cpu_note: "每搬运 1 GiB 所花的 CPU 毫秒数，按类别，汇总所有运行的 cpu-clock 采样：发送线程与接收线程并排，所有条形同一比例。~ 表示样本少于 200 个。",
    flames: "火焰图",
    flames_note: |pct| {
        format!(
            "每个线程采样到的全部内核调用链，根在底部，宽度为样本数；帧按类别着色。为适合页面已精简：样本数少于该线程 {pct} 的帧并入其调用者（--export-stacks 导出的文件保留全部帧）。鼠标悬停可看函数名与样本数。"
        )
    },
    no_flames: "没有采样到调用链（CPU 剖析不可用：见警告）。",
    diagram: "这条路径，标上本次运行的数字（与 `copylab explain METHOD --measure` 画的相同）",
    diagram_no_figures: "未标数字：只有当 read-write 与该路径同次运行、且接收端是 recv 时，本次运行的数字才会标在图上。",
    legend: "类别",
    method: "方法",
    mib_s: "MiB/s",
    wall_ms: "耗时 ms",
    syscalls: "系统调用（总数）",
    data_syscalls: "数据系统调用",
    ctx_sw: "上下文切换 自愿 / 非自愿",
    cpu_ms: "CPU ms 用户 / 内核",
    cpu_per_gib: "每 GiB CPU ms：内核 · 端到端",
    copy_ms: "拷贝 ms/GiB 发送 | 接收",
    faults: "缺页 次要 / 主要",
    textbook: "教科书",
    receiver_short: "接收",
    serving_thread: "发送线程",
    receiver_thread: "接收线程",
    ms_per_gib: "ms/GiB",
    textbook_copies: |n| format!("教科书：发送端 {n} 次 CPU 拷贝，接收端不计"),
    copies_count: |n, sg| {
        if n == sg {
            n.to_string()
        } else {
            format!("{n}（有 SG-DMA 时为 {sg}）")
        }
    },
    measured_copy: |s, r| format!("实测拷贝：发送 {s} ms/GiB · 接收 {r} ms/GiB"),
    in_softirq: |v| format!("其中在软中断中：{v} ms/GiB"),
    too_few: |n| format!("不可用：仅 {n} 个样本，不足以判断"),
    copies: "CPU 拷贝",
    dma: "DMA 拷贝",
    transitions: "态切换",
    na: "不可用",
    warnings: "警告",
    notes: "说明",
    footer: |v| {
        format!(
            "由 copylab {v} 生成。单一文件：不联网，无外部脚本或字体。类别表：src/counters/profile/categories.rs。"
        )
    },
    parts: [
        "拷贝",
        "软中断中的拷贝",
        "网络",
        "页缓存",
        "内存",
        "调度",
        "软中断",
        "系统调用",
        "用户态",
        "其他",
    ],
    sizes: "各文件大小",
    series: "序列",
    file_size: "文件大小",
    cpu_ns_gib: "每 GiB CPU ms",
    syscalls_mib: "每 MiB 系统调用",
    point: |size, buffer| format!("{size}（read-write 缓冲区 {buffer}）"),
    command: "命令",
    attached: "附加到进程",
    ended: "结束方式",
    wall: "时长",
    threads: "线程",
    process: "进程",
    thread: "线程",
    moved: "搬运字节",
    samples: "样本",
    path_verdict: "路径",
    cpu_ms_col: "按类别的 CPU ms",
    copy_per_gib: "每搬运 GiB 的拷贝 ms",
    no_profile: "无 CPU 剖析",
};
