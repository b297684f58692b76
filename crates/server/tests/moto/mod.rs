//! A real S3 server for the tests: moto from the test venv (`scripts/setup.sh` installs it),
//! listening on a loopback address of the test's choosing.

#![allow(dead_code)] // each test file uses its own subset

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::common::workspace_root;

pub struct Moto {
    child: std::process::Child,
    /// `http://<host>:<port>`
    pub endpoint: String,
}

impl Moto {
    /// Starts moto on `host` (e.g. `127.0.0.1`, or `127.0.0.2` for a second loopback address)
    /// and waits until it accepts connections.
    pub fn start(host: &str) -> Self {
        let port = TcpListener::bind((host, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(workspace_root().join(".venv/bin/python"))
            .args(["-m", "moto.server", "-H", host, "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto from the venv: run scripts/setup.sh");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect((host, port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://{host}:{port}"),
        }
    }

    pub fn create_bucket(&self, bucket: &str) {
        let response = reqwest::blocking::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// The object's bytes, fetched by boto3 (installed with moto) with moto's test credentials.
    pub fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let script = "import sys, boto3\n\
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                aws_access_key_id='testing', aws_secret_access_key='testing')\n\
            sys.stdout.buffer.write(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read())\n";
        let output = std::process::Command::new(workspace_root().join(".venv/bin/python"))
            .args(["-c", script, &self.endpoint, bucket, key])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
