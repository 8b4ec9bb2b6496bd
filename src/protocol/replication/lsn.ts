/**
 * Log sequence numbers: positions in the write-ahead log, 64-bit and only growing ("pg_lsn
 * Type" in the docs). On the wire an Int64; in SQL and replication commands the text "X/Y",
 * the high and low 32 bits in hex. Kept as bigint, since a Number is exact only to 53 bits.
 * Pure; imports nothing.
 */

/** A WAL position. 0n is InvalidXLogRecPtr: "none", or "from the slot's own position". */
export type Lsn = bigint

const lsnText = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** "16/B374D848" to 0x16_B374D848n. A RangeError for anything pg_lsn_in would refuse. */
export function parseLsn(text: string): Lsn {
  const match = lsnText.exec(text)
  if (match === null) throw new RangeError(`${JSON.stringify(text)} is not an LSN: expected two hex numbers of up to 8 digits, as in 16/B374D848`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** 0x16_B374D848n to "16/B374D848", the form the server prints (pg_lsn_out: %X/%X). */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${lsn} is outside the 64-bit range of an LSN`)
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`
}
