import { readdirSync, readFileSync } from 'node:fs';

export interface GroupProcess {
  pid: number;
  /** The command name (`ffmpeg`, `node`, ...). */
  comm: string;
  /** The state letter: R, S, D, Z (zombie, exited but not reaped), ... */
  state: string;
  /** utime + stime in clock ticks. */
  cpuTicks: number;
}

/** The processes of process group `pgid`, from /proc/<pid>/stat. */
export function groupProcesses(pgid: number): GroupProcess[] {
  const found: GroupProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // After the command name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    found.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), state: fields[0]!, cpuTicks: Number(fields[11]) + Number(fields[12]) });
  }
  return found;
}
