// Maintenance windows in the site's timezone. Wall-clock time comes from Intl with the IANA zone, so
// daylight-saving changes need no arithmetic here: 23:00 local is 23:00 local in summer and in winter.
import type { MaintenanceWindow, Weekday } from '../model/index.ts';

const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const SHORT_TO_WEEKDAY: Readonly<Record<string, Weekday>> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

const formatters = new Map<string, Intl.DateTimeFormat | null>();
function formatterFor(timeZone: string): Intl.DateTimeFormat | null {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      formatter = null;
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimezone(timeZone: string): boolean {
  return formatterFor(timeZone) !== null;
}

/** Local weekday and minute of the day at `now` in the zone; null for an unknown zone. */
export function localTime(timeZone: string, now: number): { weekday: Weekday; minutes: number } | null {
  const formatter = formatterFor(timeZone);
  if (!formatter) return null;
  let weekday: Weekday | undefined;
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(new Date(now))) {
    if (part.type === 'weekday') weekday = SHORT_TO_WEEKDAY[part.value];
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return weekday ? { weekday, minutes: hour * 60 + minute } : null;
}

function parseClock(text: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/**
 * Whether the window is open at `now` in the site's zone. `start` is inclusive, `end` exclusive. A window
 * whose end is not after its start crosses midnight (22:00–04:00): its early-morning part belongs to the
 * day it opened, so `days: [fri]` with 22:00–04:00 is open Friday 22:00 to Saturday 04:00. Equal start and
 * end mean the whole day. Without `days`, every day. An unknown zone or malformed time: closed (no step is
 * handed out on a guess; config validation reports those).
 */
export function maintenanceWindowOpen(window: MaintenanceWindow, timeZone: string, now: number): boolean {
  const local = localTime(timeZone, now);
  const start = parseClock(window.start);
  const end = parseClock(window.end);
  if (!local || start === null || end === null) return false;
  const days = window.days && window.days.length > 0 ? window.days : WEEKDAYS;
  const today = local.weekday;
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(today) + 6) % 7] as Weekday;
  const t = local.minutes;
  if (start === end) return days.includes(today);
  if (start < end) return days.includes(today) && t >= start && t < end;
  return (days.includes(today) && t >= start) || (days.includes(yesterday) && t < end);
}
