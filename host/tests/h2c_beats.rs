//! H2C writes are whole stream beats (`spec::board::H2C_TRANSFER_MULTIPLE`): the XDMA backend
//! refuses any other length before it reaches the driver, and the packets the host sends are
//! whole beats already.

use host::device::xdma::check_h2c_len;
use host::device::{DeviceError, Dir};
use spec::board::{h2c_padded_len, H2C_TRANSFER_MULTIPLE};
use std::path::Path;

#[test]
fn h2c_writes_of_partial_beats_are_refused() {
    let p = Path::new("/dev/xdma0_h2c_0");
    for len in [0, 8, 16, 4096, 8 * 12345] {
        check_h2c_len(p, len).unwrap();
    }
    for len in [1, 7, 9, 4095, 8 * 12345 + 3] {
        match check_h2c_len(p, len) {
            Err(DeviceError::Io {
                dir: Dir::H2c,
                source,
                ..
            }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
                assert!(source.to_string().contains(&len.to_string()), "{source}");
            }
            other => panic!("{len} bytes: {other:?}"),
        }
        assert!(h2c_padded_len(len) > len && h2c_padded_len(len) % H2C_TRANSFER_MULTIPLE == 0);
    }
}
