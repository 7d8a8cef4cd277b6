import { Badge } from '@mantine/core';
import { useEffect, useState } from 'react';

/** The time now, renewed every `ms`: timers on screen count down without a reload. */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

export function duration(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/**
 * One SLA target of a ticket: met, breached, or the time left. Whether it is breached is the server's word
 * (its clock decides); the time left is counted here, between refreshes.
 */
export function SlaTimer({ label, dueAt, metAt, breached, now }: { label: string; dueAt: string; metAt: string | null; breached: boolean; now: number }) {
  const due = Date.parse(dueAt);
  if (breached) {
    return <Badge color="red" variant="filled" aria-label={`${label}: breached`} title={`Due ${new Date(due).toLocaleString()}`}>Breached{metAt ? ' (met late)' : ''}</Badge>;
  }
  if (metAt) return <Badge color="green" variant="light" aria-label={`${label}: met`}>Met</Badge>;
  const left = due - now;
  const color = left < 60 * 60_000 ? 'orange' : 'gray';
  return <Badge color={color} variant="light" tt="none" aria-label={`${label}: ${duration(left)} left`} title={`Due ${new Date(due).toLocaleString()}`}>{duration(left)} left</Badge>;
}
