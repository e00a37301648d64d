using System.Runtime.InteropServices;

namespace ShampooMkl;

/// <summary>The line a load failure ends with: how a package user installs the native library on their OS, how to point the
/// library at a file it did not find, and how to see every path tried.</summary>
/// <remarks>In the root namespace beside <see cref="NativeLoadException"/>, which appends it. The same lines are in
/// docs/design.md, "Native dependencies", for the package readme. They name only package managers and installers a
/// NuGet user has, never the repository's provisioning scripts.</remarks>
internal static class NativeInstallAdvice
{
    /// <summary>How to get a BLAS/LAPACK backend on <paramref name="os"/> with <paramref name="architecture"/>.</summary>
    public static string Blas(OSPlatform os, Architecture architecture)
    {
        string install;
        if (os == OSPlatform.Windows)
        {
            install = "Install Intel oneMKL (the oneAPI installer, or `pip install mkl` / `conda install mkl`) or OpenBLAS " +
                      "(`vcpkg install openblas:x64-windows`), then put the folder holding mkl_rt.2.dll or libopenblas.dll on PATH " +
                      "or next to the application (oneAPI's setvars.bat sets ONEAPI_ROOT, which is searched too)";
        }
        else if (os == OSPlatform.OSX)
        {
            install = architecture == Architecture.Arm64
                ? "Install OpenBLAS with `brew install openblas` (Intel MKL has no Apple Silicon build)"
                : "Install OpenBLAS with `brew install openblas`, or Intel oneMKL (the oneAPI installer, or `pip install mkl`)";
        }
        else
        {
            install = architecture == Architecture.Arm64
                ? "Install OpenBLAS: `sudo apt-get install libopenblas0` (Debian/Ubuntu) or `sudo dnf install openblas` (Fedora/RHEL); " +
                  "Intel MKL is x86-64 only"
                : "Install OpenBLAS: `sudo apt-get install libopenblas0` (Debian/Ubuntu) or `sudo dnf install openblas` (Fedora/RHEL); " +
                  "or Intel MKL: `sudo apt-get install intel-mkl` (Debian/Ubuntu), the oneAPI packages, or `pip install mkl` / `conda install mkl`";
        }

        return install + ". If the library is installed somewhere else (e.g. a Python environment's lib folder), set " +
               "SHAMPOO_BLAS_PATH to the file. Run `shampoo-mkl doctor` to see every path tried.";
    }

    /// <summary>How to get Open MPI on <paramref name="os"/>.</summary>
    public static string Mpi(OSPlatform os)
    {
        var install = os == OSPlatform.Windows
            ? "Distributed training needs Open MPI, which has no Windows build (MS-MPI and Intel MPI are not supported); run it on Linux or macOS"
            : os == OSPlatform.OSX
                ? "Install Open MPI with `brew install open-mpi`"
                : "Install Open MPI: `sudo apt-get install openmpi-bin` (Debian/Ubuntu) or `sudo dnf install openmpi` (Fedora/RHEL)";
        return install + ". If libmpi is installed somewhere else, set SHAMPOO_MPI_PATH to the file. " +
               "Run `shampoo-mkl doctor` to see what loads.";
    }

    /// <summary><see cref="Blas"/> for this process's OS and architecture.</summary>
    public static string BlasForThisMachine => Blas(CurrentOS, RuntimeInformation.ProcessArchitecture);

    /// <summary><see cref="Mpi"/> for this process's OS.</summary>
    public static string MpiForThisMachine => Mpi(CurrentOS);

    private static OSPlatform CurrentOS =>
        OperatingSystem.IsWindows() ? OSPlatform.Windows : OperatingSystem.IsMacOS() ? OSPlatform.OSX : OSPlatform.Linux;
}
