// Vitest global setup. The engine work adds the PostgreSQL bootstrap here
// (DATABASE_URL when set, else an embedded server started for the run).
export default function setup(): void {}
