/// Lowercase hexadecimal, two digits a byte: how digests (SHA-256) and
/// tokens are written. Written out by hand because `String(format: "%02x")`
/// a byte went through Foundation's formatter 32 times a request (1.6 % of
/// a loaded server's time, measured with perf).
public enum Hex {
    /// `bytes` as lowercase hex: `[0x0f, 0xa0]` → `"0fa0"`.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)
}
