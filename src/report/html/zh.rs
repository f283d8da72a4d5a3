//! The HTML report's words in Chinese: every string the page shows, in one table.

use super::Words;

pub const WORDS: Words = Words {
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
