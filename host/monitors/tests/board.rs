//! A board's descriptor sensors are read: named rails (the total one, or
//! their sum), voltage × current rails, GPU and NPU load files, thermal
//! files. The files stand where sysfs would put them on the board.

use std::path::Path;
use std::time::{Duration, Instant};

use lpdnn_monitors::{BoardSensors, Metric, Monitor, MonitorConfig};
use lpdnn_platforms::Sensors;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn record(dir: &Path, sensors: serde_json::Value) -> std::collections::BTreeMap<String, Metric> {
    let sensors: Sensors = serde_json::from_value(sensors).unwrap();
    let config = MonitorConfig {
        interval: Duration::from_millis(10),
        board: Some(BoardSensors {
            board: "test-board".into(),
            sensors,
        }),
        ..Default::default()
    };
    let m = Monitor::start(config, Instant::now());
    std::thread::sleep(Duration::from_millis(80));
    let _ = dir;
    m.stop().metrics
}

fn mean(m: &std::collections::BTreeMap<String, Metric>, name: &str) -> f64 {
    m.get(name)
        .and_then(Metric::mean)
        .unwrap_or_else(|| panic!("{name}: {:?}", m.get(name)))
}

#[test]
fn a_boards_rails_loads_and_thermal_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let total = write(d, "ina/iio:device0/in_power0_input", "5000\n");
    let gpu = write(d, "ina/iio:device0/in_power1_input", "1200\n");
    write(d, "ina2/hwmon/hwmon3/in1_input", "5000\n");
    write(d, "ina2/hwmon/hwmon3/curr1_input", "400\n");
    let load = write(d, "gpu.0/load", "450\n");
    let npu = write(d, "rknpu/load", "NPU load:  Core0: 20%, Core1: 40%,\n");
    let temp = write(d, "zone9/temp", "51000\n");
    let glob = |p: &str| format!("{}/{p}", d.display());
    let m = record(
        d,
        serde_json::json!({
            "thermal": [temp],
            "power": [
                {"name": "VDD_IN", "total": true, "path": total, "unit": "mW"},
                {"name": "VDD_GPU", "path": gpu, "unit": "mW"},
                {"name": "VDD_SYS", "voltage": glob("ina2/hwmon/hwmon*/in1_input"),
                 "current": glob("ina2/hwmon/hwmon*/curr1_input")},
                {"name": "VDD_SYS", "path": "/nonexistent/in_power9_input", "unit": "mW"},
                {"name": "VDD_CV", "path": "/nonexistent/in_power2_input", "unit": "mW"}
            ],
            "gpu_load": [{"path": "/nonexistent/load", "scale": 0.1}, {"path": load, "scale": 0.1}],
            "npu_load": [{"path": npu, "format": "rknpu"}]
        }),
    );
    assert_eq!(mean(&m, "power"), 5.0, "the total rail, not the sum");
    // A mean of samples: 1.2 summed n times and divided by n is not always 1.2.
    assert!((mean(&m, "power.VDD_GPU") - 1.2).abs() < 1e-9);
    assert!((mean(&m, "power.VDD_SYS") - 2.0).abs() < 1e-9);
    assert!(
        !m.contains_key("power.VDD_CV"),
        "a rail that does not read is left out"
    );
    let Metric::Measured { source, .. } = &m["power"] else {
        unreachable!()
    };
    assert!(
        source.contains("VDD_IN") && source.contains("test-board"),
        "{source}"
    );
    let nvml = matches!(&m.get("gpu_load"), Some(Metric::Measured { source, .. }) if source.starts_with("NVML"));
    if !nvml {
        assert_eq!(mean(&m, "gpu_load"), 45.0);
    }
    assert_eq!(mean(&m, "npu_load"), 30.0);
    assert_eq!(mean(&m, &format!("temperature.{temp}")), 51.0);
}

#[test]
fn without_a_total_rail_the_power_is_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cpu = write(d, "cpu", "3000000\n");
    let soc = write(d, "soc", "1500000\n");
    let m = record(
        d,
        serde_json::json!({
            "power": [
                {"name": "CPU", "path": cpu, "unit": "uW"},
                {"name": "SOC", "path": soc, "unit": "uW"}
            ]
        }),
    );
    assert_eq!(mean(&m, "power"), 4.5);
    let Metric::Measured { source, .. } = &m["power"] else {
        unreachable!()
    };
    assert!(source.contains("sum of rails CPU, SOC"), "{source}");
}
