using static TorchSharp.torch;

namespace Ship.Bench;

/// Command-line options of the benchmark program.
internal sealed class Options
{
    public string Which = "A";
    public int[] Ns = { 32, 64, 128, 256, 512, 1024, 2048, 4096 };
    public int Batch = 10, Steps = 500, MinRuns = 5;
    public double MinTime = 10;
    public Device Device = CPU;
    public bool Peer;
    public string Out = Path.Combine("bench", "results");
    public int Threads = Environment.ProcessorCount;
    public int[] ThreadCounts = { 1, 2 };
    public int Epochs = 30, Busy;
    public string? Data, Json;
    public string? AbBase;
    public int AbBN = 500;
    public bool AbKeep;

    public static Options Parse(string[] args)
    {
        var o = new Options();
        bool nsGiven = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "A" or "B" or "all" or "diag" or "case" or "replot" or "gpucheck" or "memA" or "profile" or "profileB" or "ledger" or "crossbar" or "ab" or "precision" or "train" or "train-run" or "train-profile": o.Which = args[i]; break;
                case "--base": o.AbBase = Next(); break;
                case "--b-n": o.AbBN = int.Parse(Next()); break;
                case "--keep": o.AbKeep = true; break;
                case "--ns": nsGiven = true; o.Ns = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(); break;
                case "--batch": o.Batch = int.Parse(Next()); break;
                case "--steps": o.Steps = int.Parse(Next()); break;
                case "--min-runs" or "--runs": o.MinRuns = int.Parse(Next()); break;
                case "--min-time": o.MinTime = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--device": o.Device = Next() == "cuda" ? CUDA : CPU; break;
                case "--peer": o.Peer = true; break;
                case "--out": o.Out = Next(); break;
                case "--threads": o.Threads = int.Parse(Next()); break;
                case "--thread-counts": o.ThreadCounts = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(); break;
                case "--epochs": o.Epochs = int.Parse(Next()); break;
                case "--data": o.Data = Next(); break;
                case "--json": o.Json = Next(); break;
                case "--busy": o.Busy = int.Parse(Next()); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        // The old-vs-new bench times benchmark A at two sizes by default (its full sweep would take hours for 2 × 5 runs).
        if (o.Which == "ab" && !nsGiven) o.Ns = new[] { 256, 1024 };
        return o;
    }
}
