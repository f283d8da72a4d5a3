//! Every text `explain` prints, in Chinese (中文). Technical terms stay recognisable.

use super::{Measured, Myth, Texts};
use crate::method::{Band, MethodKind, Place, StepKind, Textbook};

pub struct Chinese;

impl Texts for Chinese {
    fn band(&self, b: Band) -> &'static str {
        match b {
            Band::User => "用户空间",
            Band::Kernel => "内核空间",
            Band::Hardware => "硬件",
        }
    }

    fn place(&self, p: Place) -> &'static str {
        match p {
            Place::Disk => "磁盘",
            Place::PageCache => "页缓存",
            Place::UserBuffer => "用户缓冲区",
            Place::UserMapping => "用户映射区",
            Place::Pipe => "管道 pipe",
            Place::SocketBuffer => "socket 缓冲区",
            Place::Nic => "网卡 NIC",
        }
    }

    fn kind(&self, k: StepKind) -> &'static str {
        match k {
            StepKind::Dma => "DMA 拷贝：由设备完成，不占 CPU",
            StepKind::Cpu => "CPU 拷贝：每个字节都由 CPU 复制",
            StepKind::CpuUnlessSg => "CPU 拷贝；设备支持 scatter-gather DMA 时没有",
            StepKind::Reference => "只移动页引用，没有拷贝",
            StepKind::Map => "页被映射进进程地址空间，没有拷贝",
            StepKind::Pin => "页被钉住（pin）借给 socket，直到完成通知，没有拷贝",
        }
    }

    fn title(&self, m: MethodKind) -> &'static str {
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
            MethodKind::IoUringSplice => {
                "io-uring-splice —— splice 的管道路径，经 io_uring 批量提交"
            }
            MethodKind::IoUringSendZc => {
                "io-uring-send-zc —— 经 io_uring 的零拷贝发送，每次两个完成事件"
            }
        }
    }

    fn during(&self, call: &str) -> String {
        if crate::method::is_io_uring_op(call) {
            format!("由 {call} 完成，经 io_uring_enter() 批量提交")
        } else {
            format!("发生在 {call}() 期间")
        }
    }

    fn heading_steps(&self) -> &'static str {
        "步骤"
    }

    fn heading_textbook(&self) -> &'static str {
        "教科书的说法"
    }

    fn textbook(&self, t: &Textbook) -> String {
        let cpu = if t.cpu_copies == t.cpu_copies_with_sg_dma {
            format!("{} 次 CPU 拷贝", t.cpu_copies)
        } else {
            format!(
                "{} 次 CPU 拷贝（有 scatter-gather DMA 时 {} 次）",
                t.cpu_copies, t.cpu_copies_with_sg_dma
            )
        };
        let calls = if t.syscalls_per_batch.is_empty() {
            format!("每块数据的系统调用：{}", t.syscalls_per_chunk)
        } else {
            format!(
                "每批数据块只有一次系统调用 {}（一批多少块由 --batch 决定）",
                t.syscalls_per_batch
            )
        };
        format!(
            "{cpu}，{} 次 DMA 拷贝，{} 次用户态↔内核态切换（面试答案里的“上下文切换”）；{calls}{}。",
            t.dma_copies,
            t.transitions,
            if t.syscalls_once.is_empty() {
                String::new()
            } else {
                format!("（每次传输一次 {}）", t.syscalls_once)
            }
        )
    }

    fn heading_reality(&self) -> &'static str {
        "Linux 实际上怎么做"
    }

    fn reality(&self, m: MethodKind) -> &'static [&'static str] {
        match m {
            MethodKind::ReadWrite => &[
                "教科书只算一次 read 和一次 write。真实的服务器要循环：256 MiB 的文件配 128 KiB 的缓冲区，就是 2,048 次 read 和 2,048 次 write —— 8,192 次用户态↔内核态切换，而不是 4 次。",
                "copylab 用 pread64（显式偏移），所以同一个打开的文件可以同时服务多个连接。",
                "两次 CPU 拷贝都是真的：页缓存 → 你的缓冲区，你的缓冲区 → socket。",
            ],
            MethodKind::Mmap => &[
                "一次 mmap，然后 socket 允许的最少次数的 write —— 但内核仍然要把页缓存拷贝到 socket 缓冲区。",
                "页必须映射进进程：会有 read-write 没有的次缺页（minor page fault）和页表开销。",
                "如果别的进程截断了文件，访问丢失的页会触发 SIGBUS；copylab 自己从不访问这些页，write 会返回 EFAULT。",
            ],
            MethodKind::Sendfile => &[
                "一次系统调用最多移动 2 GiB − 4 KiB（0x7ffff000 字节）；256 MiB 的文件一次调用就发完。",
                "设备支持 scatter-gather（回环设备支持）时，Linux 只把页缓存页的引用交给 socket：发送端没有 CPU 拷贝。",
                "回环上没有网卡，也没有到线路的 DMA：接收端的 recv() 是一次 CPU 拷贝，所以端到端的“零拷贝”并不是零。",
                "Java 的 FileChannel.transferTo 底层就是 sendfile；Kafka 开启 TLS 后用不了它，因为加密在用户空间进行。",
            ],
            MethodKind::Splice => &[
                "每装满一次管道要两次调用：文件 → 管道，管道 → socket。管道大小（默认 64 KiB，最大 /proc/sys/fs/pipe-max-size）决定调用次数。",
                "移动的是页引用而不是字节 —— 但数据必须经过一个你自己创建和管理的管道。",
                "SPLICE_F_MOVE 从 Linux 2.6.21 起就不起作用了；出错后留在管道里的字节从未发出。",
            ],
            MethodKind::Vmsplice => &[
                "vmsplice 把你的页借给管道而不是拷贝：write() 的拷贝没了，read() 的拷贝还在。",
                "问题在于：没有任何通知告诉你内核何时用完这些页。在回环上它们一直待在接收端的队列里，直到对方读走；在那之前改写它们，客户端收到的数据就变了。",
                "所以 copylab 从不复用页：每个 4 MiB 区域都是新 mmap 的，splice 完就 munmap。内核要把每个新页清零 —— 这一遍内存操作顶替了省下的拷贝 —— 每页还要一次缺页。",
            ],
            MethodKind::MsgZerocopy => &[
                "先在 socket 上设 SO_ZEROCOPY，再 send(MSG_ZEROCOPY)：socket 钉住映射的页，调用在数据发出之前就返回。",
                "每次发送都欠一个完成通知，用 recvmsg(MSG_ERRQUEUE) 从 socket 的错误队列读取；内核会把它们合并成发送编号的区间。区间完成之前，页不能改也不能解除映射。",
                "在回环上内核照样拷贝 —— 接收端可能永远不读 —— 并在每个完成通知里说明（SO_EE_CODE_ZEROCOPY_COPIED）。copylab 统计这些通知，而不是想当然。",
                "Unix socket 拒绝 SO_ZEROCOPY。钉住的太多（optmem_max、RLIMIT_MEMLOCK）时 send 返回 ENOBUFS：copylab 先读完成通知再重试，否则这一块用普通拷贝发送并如实报告。",
            ],
            MethodKind::IoUringSplice => &[
                "每装满一次管道还是两次 splice，但作为链接（link）的条目放进与内核共享的环：一次 io_uring_enter 提交整批（--batch）并等待。",
                "splice 无法以不阻塞的方式尝试，内核把它交给 io-wq 工作线程（iou-wrk-<tid>）。服务线程的系统调用和 CPU 下降了，工作量并没有。copylab 单独一行测量工作线程的 CPU。",
                "io_uring 用共享内存环换掉系统调用：要看的是系统调用那一列，而不是拷贝次数。",
            ],
            MethodKind::IoUringSendZc => &[
                "IORING_OP_SEND_ZC 像 MSG_ZEROCOPY 一样钉住映射的页，但不需要 SO_ZEROCOPY，也不用错误队列。",
                "每次发送完成两次：先是结果（发送的字节数，带 IORING_CQE_F_MORE），页释放后再来一个通知（IORING_CQE_F_NOTIF）。加上 IORING_SEND_ZC_REPORT_USAGE，通知会说明内核是否做了拷贝。",
                "同一个 socket 的发送被链接起来以保证字节流的顺序；一批用一次 io_uring_enter 提交。Unix socket 拒绝零拷贝发送。",
            ],
        }
    }

    fn heading_measured(&self) -> &'static str {
        "在这台机器上的测量"
    }

    fn measured(&self, m: &Measured) -> Vec<String> {
        let mut v = vec![format!(
            "{}，经 {}（{} 次运行的中位数）：{} 次系统调用（{}）—— read-write 需要 {} 次。",
            super::size_text(m.bytes),
            m.transport,
            m.runs,
            m.syscalls.map_or("n/a".into(), |n| n.to_string()),
            m.by_name,
            m.rw_syscalls.map_or("n/a".into(), |n| n.to_string()),
        )];
        v.push(format!(
            "上下文切换：主动 {} / 被动 {} · 缺页：次 {} / 主 {} · 内核态 CPU {:.1} ms（read-write {:.1} ms）。",
            m.voluntary, m.involuntary, m.minor_faults, m.major_faults, m.sys_ms, m.rw_sys_ms
        ));
        if let Some(z) = &m.zerocopy {
            v.push(format!(
                "零拷贝发送 {} 次，完成 {} 次；内核报告其中 {} 次做了拷贝{}。",
                z.sends,
                z.completed,
                z.copied,
                if z.plain_fallback > 0 {
                    format!("（ENOBUFS 后有 {} 块改用普通发送）", z.plain_fallback)
                } else {
                    String::new()
                }
            ));
        }
        if let Some(ms) = m.worker_cpu_ms {
            v.push(format!(
                "io-wq 工作线程替服务线程花了 {ms:.1} ms CPU —— 不在上面的数字里。"
            ));
        }
        if let Some(c) = &m.copies {
            v.push(format!(
                "采样 CPU（cpu-clock）：发送线程每 GiB 花 {:.0} ms 做拷贝（占其样本 {:.0}%；read-write 为 {:.0} ms），接收线程每 GiB {:.0} ms（{:.0}%）—— 接收端从 socket 拷出的那一次，每条路径都省不掉。",
                c.serving_ms_per_gib,
                c.serving_share_pct,
                c.rw_serving_ms_per_gib,
                c.receiver_ms_per_gib,
                c.receiver_share_pct
            ));
        }
        v
    }

    fn verdict(&self, m: &Measured) -> String {
        match (m.syscalls, m.expected_syscalls) {
            (Some(got), Some(want)) if got == want => format!(
                "与模型一致：每块 {} × {} 块{} = {want} 次系统调用 = {} 次用户态↔内核态切换。教科书的 {} 次只描述一块数据{}。上面的调度器上下文切换是另一回事：socket 缓冲区满时线程在睡眠。",
                m.per_chunk,
                m.chunks,
                match m.fresh_regions {
                    0 => String::new(),
                    n => format!(" + {n} 个新页区域的 mmap + munmap"),
                },
                2 * want,
                m.textbook_transitions,
                if m.with_munmap {
                    "，而且不算 munmap"
                } else if m.fresh_regions > 0 {
                    "，而且不算 vmsplice 需要的新页"
                } else {
                    ""
                }
            ),
            (Some(got), Some(want)) => format!(
                "与教科书的 {want} 次不同：实际是 {got} 次系统调用，因为 socket 每次接收的字节少于请求的（短写），或计数器看到了数据路径之外的调用。教科书的模型没有考虑这些。"
            ),
            (Some(got), None) => format!(
                "{got} 次系统调用：{} 这里模型给不出固定次数：调用次数取决于内核何时完成每个请求。",
                m.per_chunk
            ),
            _ => "这台机器上无法统计系统调用（见 `copylab doctor`），只能比较 CPU 和上下文切换的数字。".into(),
        }
    }

    fn heading_myths(&self) -> &'static str {
        "面试中的误区，逐条纠正"
    }

    fn myths(&self) -> &'static [Myth] {
        &[
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
                truth: "FileChannel.transferTo 底层就是 sendfile。开启 TLS 后 Kafka 用不了它：加密在用户空间，数据必须上来。",
                command: "copylab serve FILE --method sendfile --http",
            },
            Myth {
                claim: "“Rust 里 std::io::copy 从 File 到 TcpStream 会用 sendfile”",
                truth: "不会：它读进缓冲区再写出（copylab 自己调用 sendfile）。",
                command: "strace -f -e trace=sendfile,read,write <你的程序>",
            },
            Myth {
                claim: "“第一次和第十次运行的代价一样”",
                truth: "热的页缓存把磁盘藏起来了：只有冷读才有来自磁盘的 DMA。--cache cold 在每次运行前丢弃文件的页；可以看到 mmap 的主缺页和 read-write 的主动上下文切换出现。",
                command: "copylab compare --cache cold   对比   copylab compare --cache warm",
            },
            Myth {
                claim: "“io_uring 就是零拷贝”",
                truth: "io_uring 去掉的是系统调用，不是拷贝：同样的操作经共享的环传递。它的 splice 在内核工作线程里执行，服务线程看起来很闲，活却由另一个线程干了。",
                command: "copylab compare --methods splice,io-uring-splice",
            },
            Myth {
                claim: "“MSG_ZEROCOPY 让回环测试变成零拷贝”",
                truth: "在回环上内核会拷贝每一次零拷贝发送，并在完成通知里说明；只有大块数据发往真实网卡时零拷贝才划算。",
                command: "copylab compare --methods sendfile,msg-zerocopy",
            },
        ]
    }

    fn legend(&self) -> &'static str {
        "DMA = 设备拷贝 · CPU = 处理器拷贝 · CPU* = 有 scatter-gather DMA 时没有 · ref = 移动页引用 · map = 页映射 · pin = 页被钉住直到完成通知"
    }
}
