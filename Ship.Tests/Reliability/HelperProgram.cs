using System.Globalization;
using Ship.Devices.Persistence;
using TorchSharp;

namespace Ship.Tests.Reliability;

/// <summary>
/// Entry point of the test assembly when launched as a program (<c>dotnet exec Ship.Tests.dll command …</c>), so that
/// tests can check behaviour across processes without another project: a checkpoint saved here is continued there,
/// and a seeded run there must equal the same run here. (The test SDK's generated empty Main is disabled in the csproj.)
/// </summary>
public static class HelperProgram
{
    public static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            switch (args.FirstOrDefault())
            {
                case "continue" when args.Length == 4:
                {
                    var net = Checkpoint.Load(args[2], Scenarios.Registry());
                    Scenarios.Write(args[3], Scenarios.Record(net, Scenarios.Part2(net, args[1])));
                    return 0;
                }
                case "save" when args.Length == 3:
                {
                    var net = Scenarios.Build(args[1]);
                    Scenarios.Part1(net, args[1]);
                    Checkpoint.Save(net, args[2], Scenarios.Registry());
                    return 0;
                }
                case "fresh" when args.Length == 3:
                {
                    var net = Scenarios.Build(args[1]);
                    Scenarios.Part1(net, args[1]);
                    Scenarios.Write(args[2], Scenarios.Record(net, Scenarios.Part2(net, args[1])));
                    return 0;
                }
                case "stream-into" when args.Length == 2:
                {
                    var net = StreamingMonitorTests.Net();
                    var m = net.Monitor("L", "u").StreamTo(args[1], 10);
                    net.Run(Scenarios.Raster(2, 5, 4, 0.4, seed: 4), Ship.Core.Clocks.Schedule.Fixed(1e-3, 5));
                    m.CloseStream();
                    return 0;
                }
                case "train" when args.Length == 2:
                    Scenarios.Write(args[1], Scenarios.Train());
                    return 0;
                case "wait-policy":
                    Ship.Core.Native.TorchSharpLoad.EnsureLoaded();
                    Console.WriteLine($"OMP_WAIT_POLICY={Ship.Core.Native.OpenMpWaitPolicy.NativeValue("OMP_WAIT_POLICY") ?? "unset"} threads={torch.get_num_threads()}");
                    return 0;
                case "stress" when args.Length is 5 or 6:
                    return StressProgram.Run(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture),
                        int.Parse(args[3], CultureInfo.InvariantCulture), double.Parse(args[4], CultureInfo.InvariantCulture),
                        args.Length == 6 ? args[5] : "sgd");
                default:
                    Console.Error.WriteLine("usage: continue <scenario> <checkpoint> <out> | save <scenario> <checkpoint> | fresh <scenario> <out> | stream-into <folder> | train <out> | stress <epochs> <threads> <gc-threads> <max-seconds> [sgd|adam]");
                    return 2;
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            return 1;
        }
    }
}
