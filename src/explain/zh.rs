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
        }
    }

    fn during(&self, call: &str) -> String {
        format!("发生在 {call}() 期间")
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
        format!(
            "{cpu}，{} 次 DMA 拷贝，{} 次用户态↔内核态切换（面试答案里的“上下文切换”）；每块数据的系统调用：{}{}。",
            t.dma_copies,
            t.transitions,
            t.syscalls_per_chunk,
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
        v
    }

    fn verdict(&self, m: &Measured) -> String {
        match (m.syscalls, m.expected_syscalls) {
            (Some(got), Some(want)) if got == want => format!(
                "与模型一致：每块 {} × {} 块 = {want} 次系统调用 = {} 次用户态↔内核态切换。教科书的 {} 次只描述一块数据{}。上面的调度器上下文切换是另一回事：socket 缓冲区满时线程在睡眠。",
                m.per_chunk,
                m.chunks,
                2 * want,
                m.textbook_transitions,
                if m.with_munmap { "，而且不算 munmap" } else { "" }
            ),
            (Some(got), Some(want)) => format!(
                "与教科书的 {want} 次不同：实际是 {got} 次系统调用，因为 socket 每次接收的字节少于请求的（短写），或计数器看到了数据路径之外的调用。教科书的模型没有考虑这些。"
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
        ]
    }

    fn legend(&self) -> &'static str {
        "DMA = 设备拷贝 · CPU = 处理器拷贝 · CPU* = 有 scatter-gather DMA 时没有 · ref = 移动页引用 · map = 页映射"
    }
}
