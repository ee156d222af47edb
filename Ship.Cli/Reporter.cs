using Spectre.Console;

namespace Ship.Cli;

/// <summary>Progress of one stage of the study.</summary>
public interface IStageProgress
{
    /// <summary>Moves the stage on by <paramref name="amount"/> units and shows <paramref name="status"/> (live displays only).</summary>
    void Advance(double amount = 1, string? status = null);
    /// <summary>A line worth keeping in the log (e.g. an epoch summary).</summary>
    void Report(string line);
}

/// <summary>
/// Where the study reports what it does: a live Spectre.Console display on an interactive terminal, or plain
/// timestamp-free lines (stage starts, kept lines, a status every 10 %) when the output is a log file or a pipe.
/// </summary>
public sealed class Reporter
{
    private readonly IAnsiConsole _console;

    /// <summary>Creates a reporter writing to <paramref name="console"/>; <paramref name="live"/> chooses the live display.</summary>
    public Reporter(IAnsiConsole console, bool live)
    {
        _console = console;
        Live = live;
    }

    /// <summary>Whether progress is drawn live (interactive terminal) rather than as plain lines.</summary>
    public bool Live { get; }

    /// <summary>The console (for tables and rules).</summary>
    public IAnsiConsole Console => _console;

    /// <summary>Writes a plain line (markup is escaped).</summary>
    public void Info(string line) => _console.WriteLine(line);

    /// <summary>Writes a heading.</summary>
    public void Heading(string title)
    {
        if (Live) _console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
        else _console.WriteLine($"== {title}");
    }

    /// <summary>Runs <paramref name="work"/> as a stage of <paramref name="total"/> units with progress.</summary>
    public T Stage<T>(string title, double total, Func<IStageProgress, T> work)
    {
        if (!Live)
        {
            _console.WriteLine($"-- {title}");
            return work(new PlainStage(_console, title, total));
        }
        T result = default!;
        // Spectre gives the description whatever is left of the line and wraps the other columns when it is too long
        // (at 80 columns the percentage became a vertical "10/0/%"): the bar has a fixed width and the description is
        // cut to what fits, so every stage stays one line at any terminal width.
        int width = Math.Max(_console.Profile.Width, 40);
        int bar = width >= 100 ? 30 : width >= 70 ? 20 : 10;
        int description = Math.Max(8, width - bar - FixedColumns);
        _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = bar }, new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(Fit(title, description)), maxValue: Math.Max(total, 1e-9));
                result = work(new LiveStage(_console, task, title, description));
                task.Value = task.MaxValue;
            });
        return result;
    }

    /// <summary>Columns besides the description and the bar: "100%" (4), "00:00:00" (8), the spinner (1), one space between each of the five (4), a spare column (1).</summary>
    private const int FixedColumns = 4 + 8 + 1 + 4 + 1;

    /// <summary><paramref name="text"/> cut to <paramref name="max"/> characters, ending in "…" when cut.</summary>
    internal static string Fit(string text, int max) => text.Length <= max ? text : text[..Math.Max(0, max - 1)] + "…";

    private sealed class LiveStage(IAnsiConsole console, ProgressTask task, string title, int width) : IStageProgress
    {
        public void Advance(double amount = 1, string? status = null)
        {
            task.Increment(amount);
            if (status is not null) task.Description = Markup.Escape(Fit($"{title}: {status}", width));
        }

        public void Report(string line) => console.MarkupLine("  " + Markup.Escape(line));
    }

    private sealed class PlainStage(IAnsiConsole console, string title, double total) : IStageProgress
    {
        private double _done;
        private int _lastDecile;

        public void Advance(double amount = 1, string? status = null)
        {
            _done += amount;
            int decile = total > 0 ? (int)Math.Floor(10 * _done / total) : 10;
            if (decile > _lastDecile && decile < 10)
            {
                _lastDecile = decile;
                console.WriteLine($"   {title}: {10 * decile} %{(status is null ? "" : " (" + status + ")")}");
            }
        }

        public void Report(string line) => console.WriteLine("   " + line);
    }
}
